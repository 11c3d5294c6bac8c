import { parentPort, workerData } from 'node:worker_threads';
import { type MeasurementPlan, runShare } from './measurement.js';

// A worker thread's entry: run one share of the plan, post the recorder snapshot back.
const { plan, share, shares } = workerData as { plan: MeasurementPlan; share: number; shares: number };
parentPort?.postMessage(await runShare(plan, share, shares));
