import { initEngine, parseBackendPreference, type BackendInfo } from '../engine/index.js';
import { StageError, type StageContext } from '../common/stage-contract.js';

/**
 * Every stage that uses TF.js starts the same way: pick the backend the run asked for, tell the
 * runner (for the manifest) and the log which one it got. A backend that cannot start is the
 * user's problem to fix (e.g. `--backend node` without tfjs-node), so it becomes a StageError.
 */
export async function startEngine(ctx: StageContext): Promise<BackendInfo> {
  let info: BackendInfo;
  try {
    info = await initEngine(parseBackendPreference(ctx.backend));
  } catch (err) {
    throw new StageError((err as Error).message);
  }
  ctx.reportBackend({ name: info.name, versions: info.versions, threads: info.threads });
  const native = info.nativeKernels.length ? ` (native ${info.versions['bdlab-native']}: ${info.nativeKernels.join(', ')})` : '';
  const kernels = info.customKernels.length ? `, custom kernels: ${info.customKernels.join(', ')}${native}` : '';
  ctx.log(`TF.js backend: ${info.name} (${info.threads} thread${info.threads === 1 ? '' : 's'}${kernels})`);
  return info;
}
