/**
 * Telling apart the onnxruntime errors a request causes (its tensors do not fit the tail) from
 * failures of the server or the model. A server started without input shapes cannot check every
 * dim of a crossing tensor itself, so onnxruntime is the one that finds a wrong shape; the client
 * must then hear CARBONCP_BAD_TENSOR, not CARBONCP_INTERNAL.
 */
import { isCarboncpError } from '@carboncp/protocol';

/** onnxruntime's own checks of the feeds against the graph inputs, before any kernel runs. */
const INPUT_VALIDATION = [/Got invalid dimensions for input/, /Invalid rank for input/, /Unexpected input data type/];

/**
 * A kernel failure is reported as "Non-zero status code returned while running <Op> node.
 * Name:'<node>' Status Message: <what the kernel says>". Only the kernel's words are matched (an
 * op or node name such as 'Reshape' says nothing), for the vocabulary of onnxruntime's shape
 * checks: "Invalid input shape", "X num_dims does not match W num_dims", "Attempting to broadcast
 * an axis by a dimension other than 1", "The input tensor cannot be reshaped to the requested
 * shape", "X_rank == 4 was false", "(channels % 4) == 0 was false", "Incompatible dimensions".
 */
const KERNEL_FAILURE = /Non-zero status code returned while running \S+ node\..*?Status Message:([\s\S]*)$/;
const SHAPE_WORDS = /shape|dimension|dims\b|rank|broadcast|channel/i;

/** Whether onnxruntime refused to run because of the shape or type of the tensors it was fed. */
export function isInputRejection(error: unknown): boolean {
  if (isCarboncpError(error) || !(error instanceof Error)) return false;
  const message = error.message;
  if (INPUT_VALIDATION.some((pattern) => pattern.test(message))) return true;
  const kernel = KERNEL_FAILURE.exec(message);
  return kernel !== null && SHAPE_WORDS.test(kernel[1]);
}
