import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { DUMMY_ACCOUNT } from 's3rver/lib/models/account';
import { emulatorCredentials } from './emulator-client-config';
import type { EmulatorOptions, RunningEmulator } from './running-emulator';
import { rejectAwsChunkedUploads } from './s3rver-aws-chunked-guard';
import { listObjectsV2WithoutDes } from './s3rver-list-objects-v2';

/**
 * S3 via s3rver, in this process. Objects are plain files under dataDir, or under a fresh temporary directory that
 * stop() deletes. (resetOnClose is not used: it deletes buckets, not the directory, and dataDir must survive.)
 */
export async function startS3(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const temporary = options.dataDir === undefined;
  const directory = options.dataDir ?? (await mkdtemp(join(tmpdir(), 's3-emulator-')));
  try {
    await mkdir(directory, { recursive: true });
    // s3rver rejects unknown access keys (InvalidAccessKeyId); the registry is process-wide, so this is idempotent.
    DUMMY_ACCOUNT.createKeyPair(emulatorCredentials.accessKeyId, emulatorCredentials.secretAccessKey);
    // Port 0 directly rather than freePort(): nothing can take the port between choosing and binding it.
    const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory });
    // Koa composes its middleware when the server starts, so these still take effect; the last entry is the router.
    server.middleware.splice(server.middleware.length - 1, 0, rejectAwsChunkedUploads, listObjectsV2WithoutDes);
    const { port } = await server.run();
    let stopped: Promise<void> | undefined;
    return {
      endpoint: `http://127.0.0.1:${port}`,
      stop: () =>
        (stopped ??= (async () => {
          await server.close();
          if (temporary) await rm(directory, { recursive: true, force: true });
        })()),
    };
  } catch (error) {
    if (temporary) await rm(directory, { recursive: true, force: true });
    throw error;
  }
}
