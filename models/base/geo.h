/*
 * Distances on the earth, for the delivery radius at checkout, the couriers near a market
 * and the estimated arrival of a delivery. Pure functions.
 */
#ifndef SF_GEO_H
#define SF_GEO_H

#include <stdint.h>

/* The earth's mean radius (IUGG), metres; as text for SQL's ST_Distance_Sphere(a, b, r),
 * so that a distance MariaDB computes is the one geo_distance_m() gives. */
#define GEO_EARTH_RADIUS_M 6371008.8
#define GEO_EARTH_RADIUS_S "6371008.8"

/* The great-circle (haversine) distance between two points given in degrees, in whole
 * metres, on a sphere of the earth's mean radius. */
int64_t geo_distance_m(double lat1, double lng1, double lat2, double lng2);

#endif
