import { mutationTests } from './vitest.mutation.config.js';

/** The cluster's mutation tests (stryker.cluster.config.mjs): the core cases against three brokers. */
export default mutationTests('cluster-cases.mutation.ts');
