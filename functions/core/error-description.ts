/** An error as one line for logs and answers: its name and message, or its text when it is not an Error. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
