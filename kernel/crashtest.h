#ifndef CRASHTEST_H
#define CRASHTEST_H
/* Performs the failure named by crashtest= (if any); returns only for non-fatal ones. */
void crashtest_run(void);
#endif
