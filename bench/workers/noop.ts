/** The no-op task of the overhead scenario: answers its input, so only the hand-off is measured. */
export default function noop(input: number): number {
  return input;
}
