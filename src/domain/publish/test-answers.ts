// The answer shapes of the test calls: the compat answer of POST /transformations/libraries/test,
// the test-suite answer of POST /transformations/tests/run, and the failed-test details a refused
// publish carries.

import { describeFailure, type EventError } from './test-runs.js';
import type { TestReport, TransformationReport } from './version-tests.js';

/** Input indexes into the concatenation of all case inputs. */
function concatenatedDropped(report: TransformationReport): number[] {
  const dropped: number[] = [];
  let offset = 0;
  for (const c of report.cases) {
    for (const index of c.run.dropped) dropped.push(offset + index);
    offset += c.input.length;
  }
  return dropped;
}

export function failureMessage(report: TransformationReport): string {
  const failed = report.cases.find((c) => !c.pass);
  if (!failed) return 'the test failed';
  const prefix = report.cases.length > 1 ? `${failed.name}: ` : '';
  if (failed.mismatch) return `${prefix}the output does not match expectedOutput`;
  return prefix + describeFailure(failed.run);
}

export interface CompatFailure {
  id: string;
  name: string;
  transformerVersionID: string;
  result: { message: string; errors: (EventError & { caseId: string | number })[]; logs: string[]; output: { transformedEvents: unknown[] } };
}

export function compatFailure(report: TransformationReport): CompatFailure {
  return {
    id: report.transformationId,
    name: report.name,
    transformerVersionID: report.versionId,
    result: {
      message: failureMessage(report),
      errors: report.cases.flatMap((c) => [
        ...c.run.errors.map((error) => ({ caseId: c.id, ...error })),
        ...(c.mismatch ? [{ caseId: c.id, code: 'output_mismatch', message: `the output of ${c.name} does not match its expectedOutput` }] : []),
      ]),
      logs: report.cases.flatMap((c) => c.run.logs),
      output: { transformedEvents: report.cases.flatMap((c) => c.run.outputs) },
    },
  };
}

/** The compat answer of `POST /transformations/libraries/test`. */
export function compatTestResult(report: TestReport) {
  return {
    result: {
      successTestResults: report.transformations
        .filter((t) => t.pass)
        .map((t) => ({
          transformerVersionID: t.versionId,
          id: t.transformationId,
          name: t.name,
          result: { output: { transformedEvents: t.cases.flatMap((c) => c.run.outputs), dropped: concatenatedDropped(t) }, logs: t.cases.flatMap((c) => c.run.logs) },
        })),
      failedTestResults: report.transformations.filter((t) => !t.pass).map(compatFailure),
    },
  };
}

/** The answer of `POST /transformations/tests/run`. */
export function testSuiteResult(report: TestReport) {
  return {
    pass: report.pass,
    validationOutput: {
      transformations: report.transformations.map((t) => ({
        id: t.transformationId,
        name: t.name,
        versionId: t.versionId,
        pass: t.pass,
        testResult: {
          status: t.pass ? ('passed' as const) : ('failed' as const),
          results: t.cases.map((c) => ({
            id: c.id,
            name: c.name,
            status: c.pass ? ('passed' as const) : ('failed' as const),
            actualOutput: c.run.outputs,
            ...(c.expectedOutput !== undefined ? { expectedOutput: c.expectedOutput } : {}),
            ...(c.run.errors.length > 0 || c.mismatch
              ? { errors: [...c.run.errors, ...(c.mismatch ? [{ code: 'output_mismatch', message: 'the output does not match expectedOutput' }] : [])] }
              : {}),
            dropped: c.run.dropped,
            logs: c.run.logs,
          })),
        },
      })),
      libraries: report.libraries,
    },
  };
}
