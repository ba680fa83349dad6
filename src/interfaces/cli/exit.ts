/** Exit statuses of the command-line program. */
export const EXIT_OK = 0;
/** The command failed: bad arguments, missing index, unreadable query photo... */
export const EXIT_FAILURE = 1;
/** The command finished, but some input images could not be read and were skipped. */
export const EXIT_PARTIAL = 2;
