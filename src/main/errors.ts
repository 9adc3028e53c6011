/**
 * An error caused by the user's input or environment (bad file, unknown name, impossible config).
 * Its message is one line naming the thing and the fix; the CLI prints it without a stack and exits 1
 * (or 2 for usage errors).
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export const usageError = (message: string) => new UserError(message, 2);
