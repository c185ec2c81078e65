/*
 * A moment known in C (Unix milliseconds) rendered as SQL_AT_0800 renders a column.
 */
#include <stdio.h>
#include <time.h>
#include "models/base/sqltime.h"

void sqltime_ms_0800(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000) + 8 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t k = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, len - k, ".%03d+08:00", (int)(ms % 1000));
}
