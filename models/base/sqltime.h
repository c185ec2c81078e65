/*
 * How a UTC DATETIME(3) column is rendered for the API: RFC 3339 in +08:00 (China has one
 * time zone and no summer time, so a fixed offset is exact), with milliseconds, e.g.
 * 2026-11-30T08:14:05.123+08:00. Done in SQL so a row is read as the text it is sent as.
 */
#ifndef SF_SQLTIME_H
#define SF_SQLTIME_H

#include <stddef.h>
#include <stdint.h>

#define SQL_AT_0800(col) "CONCAT(LEFT(DATE_FORMAT(" col " + INTERVAL 8 HOUR, '%Y-%m-%dT%H:%i:%s.%f'), 23), '+08:00')"

/* The same text for a moment known in C (Unix milliseconds, not negative), for what is not
 * read from a column (a Redis score, a time taken in C). buf: 30 bytes suffice. */
void sqltime_ms_0800(int64_t ms, char *buf, size_t len);

#endif
