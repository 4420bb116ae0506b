/**
 * The variables through which the test runner (`tests/support/run_tests.ts`)
 * tells each `deno test` process it starts where the run's files go. A
 * module that reads them does not need a broker: `tests/support/test_plan.ts`
 * sends the modules that import `tests/support/test_broker.ts` to the broker
 * lanes, so shared support imports these from here.
 *
 * @module
 */

/** The run directory of this `deno test` process: its broker node's state, its recorded `--env`s. */
export const RUN_DIR_VAR = "TELEMETRY_TEST_RUN_DIR";
/** The runner's pid; a node stops when it is gone. */
export const OWNER_PID_VAR = "TELEMETRY_TEST_OWNER_PID";
/**
 * The runner's own directory, which holds every run directory and `TMPDIR`;
 * a node's launcher removes it when the runner dies without cleaning up
 * (default: the run directory).
 */
export const OWNER_DIR_VAR = "TELEMETRY_TEST_OWNER_DIR";
