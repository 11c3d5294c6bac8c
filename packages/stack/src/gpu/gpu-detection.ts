import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

// Whether a stack can run TF Serving's GPU image: an NVIDIA GPU that `nvidia-smi -L` lists, or an engine that
// reports an nvidia runtime (the NVIDIA container toolkit). `--gpu auto|on|off` decides what to do with it.

export type GpuMode = 'auto' | 'on' | 'off';

export interface GpuInfo {
  index: number;
  name: string;
  uuid: string | null;
}

/** The GPUs `nvidia-smi -L` lists: `GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-...)` per line. */
export function parseNvidiaSmiList(output: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of output.split('\n')) {
    const match = /^GPU (\d+): (.+?)(?: \(UUID: ([^)]+)\))?\s*$/.exec(line.trim());
    if (match) gpus.push({ index: Number(match[1]), name: match[2] as string, uuid: match[3] ?? null });
  }
  return gpus;
}

/** The GPUs of this machine, or [] where nvidia-smi is missing or fails. */
export async function listNvidiaGpus(run = promisify(execFile)): Promise<GpuInfo[]> {
  try {
    const { stdout } = await run('nvidia-smi', ['-L'], { timeout: 10_000 });
    return parseNvidiaSmiList(stdout);
  } catch {
    return []; // no driver, no GPU: the CPU image it is
  }
}

export interface GpuDecision {
  useGpu: boolean;
  /** Why, in one line for the user: the GPU model, or what was missing. */
  reason: string;
  gpus: GpuInfo[];
}

/** A GPU stack was asked for (`--gpu on`) where none can run. */
export class GpuUnavailableError extends Error {
  override readonly name = 'GpuUnavailableError';
}

/**
 * What `--gpu` means here: `off` never; `on` requires a GPU (an NVIDIA GPU or the engine's nvidia runtime) and
 * fails clearly without one; `auto` uses one where found.
 */
export function decideGpu(mode: GpuMode, gpus: GpuInfo[], engineHasNvidiaRuntime: boolean): GpuDecision {
  if (mode === 'off') return { useGpu: false, reason: 'GPU off (--gpu off)', gpus };
  const found = gpus.length > 0 || engineHasNvidiaRuntime;
  const names = gpus.map((gpu) => `GPU ${gpu.index}: ${gpu.name}`).join(', ');
  if (found) {
    return {
      useGpu: true,
      reason: names ? `using ${names}` : 'using the engine nvidia runtime (nvidia-smi not found here)',
      gpus,
    };
  }
  if (mode === 'on') {
    throw new GpuUnavailableError(
      '--gpu on, but no NVIDIA GPU was found: `nvidia-smi -L` lists none and the container engine reports no nvidia runtime (install the NVIDIA driver and the NVIDIA container toolkit, or use --gpu auto|off)',
    );
  }
  return { useGpu: false, reason: 'no NVIDIA GPU found: CPU image', gpus };
}
