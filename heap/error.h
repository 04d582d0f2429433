/* Thread-local error messages behind agc_last_error(). */
#ifndef ARTGC_ERROR_H
#define ARTGC_ERROR_H
__attribute__((format(printf, 2, 3)))
int agc_fail(int code, const char *fmt, ...);   /* sets the message, returns code */
#endif
