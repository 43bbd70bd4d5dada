import { VerificationError } from "../../ledger/errors.ts";

/** `gdo rfc lint` found errors (they were printed); the CLI exits 1. */
export class RfcLintError extends VerificationError {
  constructor(errors: number, files: number) {
    super(
      "rfc-lint",
      `${errors} error${errors === 1 ? "" : "s"} in ${files} file${files === 1 ? "" : "s"}`,
      { errors, files },
    );
  }
}
