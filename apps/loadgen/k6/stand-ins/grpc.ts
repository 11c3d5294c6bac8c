import { standIn } from './k6-stand-in-log.js';

class Client {
  private address: string | null = null;
  load(roots: string[], file: string): void {
    standIn.log.loaded.push({ roots, file });
  }
  connect(address: string): void {
    this.address = address;
  }
  close(): void {
    this.address = null;
  }
  invoke(method: string, request: object, params: { metadata: Record<string, string> }): { status: number } {
    standIn.log.grpcInvokes.push({ address: this.address, method, request, metadata: params.metadata });
    return { status: standIn.log.grpcStatus(params.metadata.authorization) };
  }
}

export default { Client, StatusOK: 0, StatusUnauthenticated: 16 };
