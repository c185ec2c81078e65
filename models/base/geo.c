/*
 * Distances on the earth (see geo.h).
 */
#include <math.h>
#include "models/base/geo.h"

int64_t geo_distance_m(double lat1, double lng1, double lat2, double lng2)
{
    const double rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlng = (lng2 - lng1) * rad;
    double h = sin(dlat / 2) * sin(dlat / 2) + cos(lat1 * rad) * cos(lat2 * rad) * sin(dlng / 2) * sin(dlng / 2);
    if (h > 1.0) /* rounding near antipodes */
        h = 1.0;
    return (int64_t)llround(2.0 * GEO_EARTH_RADIUS_M * asin(sqrt(h)));
}
