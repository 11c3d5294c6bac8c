import { describe, expect, it } from 'vitest';
import { launchOnFreePorts, PORT_ATTEMPTS, RealKeycloakError } from './real-keycloak.js';

// The retry around a Keycloak start, on fakes: a port picked free can be taken before the JVM binds it, and
// the start then goes again on fresh ports, never on a port the caller chose. The log lines are Keycloak
// 26.7.3's own: the HTTP port's seen with a listener on the port given to it, the management port's from a
// CI run where another process took the picked port first.

const taken = (port: number) =>
  new RealKeycloakError(
    'EXITED_BEFORE_READY',
    'Keycloak exited (1) before http://127.0.0.1:9000/health/ready answered 200',
    '2026-12-03 12:20:32,463 ERROR [org.keycloak.quarkus.runtime.cli.ExecutionExceptionHandler] (main) ' +
      `ERROR: io.quarkus.runtime.QuarkusBindException: Port already bound: ${port}: Address already in use`,
  );

const managementTaken = (port: number) =>
  new RealKeycloakError(
    'EXITED_BEFORE_READY',
    `Keycloak exited (1) before http://127.0.0.1:${port}/health/ready answered 200`,
    [
      '2026-12-03 13:50:40,042 ERROR [org.keycloak.quarkus.runtime.cli.ExecutionExceptionHandler] (main) ERROR: Failed to start server in (development) mode',
      '2026-12-03 13:50:40,045 ERROR [org.keycloak.quarkus.runtime.cli.ExecutionExceptionHandler] (main) ERROR: Unable to start HTTP server',
      `2026-12-03 13:50:40,047 ERROR [org.keycloak.quarkus.runtime.cli.ExecutionExceptionHandler] (main) ERROR: java.lang.IllegalStateException: Unable to start the management interface on 127.0.0.1:${port}`,
      `2026-12-03 13:50:40,047 ERROR [org.keycloak.quarkus.runtime.cli.ExecutionExceptionHandler] (main) ERROR: Unable to start the management interface on 127.0.0.1:${port}`,
      '2026-12-03 13:50:40,047 ERROR [org.keycloak.quarkus.runtime.cli.ExecutionExceptionHandler] (main) ERROR: Address already in use',
    ].join('\n'),
  );

/** Picks 40001/40002, then 40003/40004, ... for the ports wanted as 0. */
function picker() {
  let next = 40_001;
  const calls: [number, number][] = [];
  const pick = async (http: number, management: number): Promise<[number, number]> => {
    const ports: [number, number] = [http || next++, management || next++];
    calls.push(ports);
    return ports;
  };
  return { pick, calls };
}

describe('launchOnFreePorts', () => {
  it('starts again on fresh ports when a picked one was taken before Keycloak bound it', async () => {
    const { pick, calls } = picker();
    const started = await launchOnFreePorts(
      [0, 0],
      async (http, management) => {
        if (http === 40_001) throw taken(40_002); // the management port went first
        return `${http}/${management}`;
      },
      pick,
    );
    expect(started).toBe('40003/40004');
    expect(calls).toEqual([
      [40_001, 40_002],
      [40_003, 40_004],
    ]);
  });

  it('starts again when the picked management port was taken (its own log form)', async () => {
    const { pick, calls } = picker();
    const started = await launchOnFreePorts(
      [0, 0],
      async (http, management) => {
        if (http === 40_001) throw managementTaken(management);
        return `${http}/${management}`;
      },
      pick,
    );
    expect(started).toBe('40003/40004');
    expect(calls).toHaveLength(2);
  });

  it('starts again when the port picked for one listener is the one the caller gave the other', async () => {
    const { pick, calls } = picker(); // its first pick is 40001, the HTTP port given
    const started = await launchOnFreePorts(
      [40_001, 0],
      async (http, management) => {
        if (management === http) throw taken(management);
        return `${http}/${management}`;
      },
      pick,
    );
    expect(started).toBe('40001/40002');
    expect(calls).toEqual([
      [40_001, 40_001],
      [40_001, 40_002],
    ]);
  });

  it(`gives up after ${PORT_ATTEMPTS} starts, with the last start's error`, async () => {
    const { pick, calls } = picker();
    const attempt = launchOnFreePorts(
      [0, 0],
      async (http) => {
        throw taken(http);
      },
      pick,
    );
    await expect(attempt).rejects.toThrow(`Port already bound: ${40_001 + 2 * (PORT_ATTEMPTS - 1)}`);
    expect(calls).toHaveLength(PORT_ATTEMPTS);
  });

  it('does not retry when the taken port is one the caller gave, or on any other failure', async () => {
    const given = picker();
    await expect(
      launchOnFreePorts(
        [8080, 0],
        async (http) => {
          throw taken(http);
        },
        given.pick,
      ),
    ).rejects.toThrow('Port already bound: 8080');
    expect(given.calls).toEqual([[8080, 40_001]]);

    const givenManagement = picker();
    await expect(
      launchOnFreePorts(
        [0, 9000],
        async (_http, management) => {
          throw managementTaken(management);
        },
        givenManagement.pick,
      ),
    ).rejects.toThrow('answered 200');
    expect(givenManagement.calls).toEqual([[40_001, 9000]]);

    const other = picker();
    const timeout = new RealKeycloakError('START_TIMEOUT', 'Keycloak was not ready within 1 ms');
    await expect(
      launchOnFreePorts(
        [0, 0],
        async () => {
          throw timeout;
        },
        other.pick,
      ),
    ).rejects.toBe(timeout);
    expect(other.calls).toHaveLength(1);
  });
});
