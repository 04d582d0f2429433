#include <stdarg.h>
#include <stdio.h>
#include "error.h"
#include "heap_api.h"

static __thread char last_error[1024];

int agc_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}

const char *agc_last_error(void)
{
    return last_error;
}
