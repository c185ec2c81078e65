/*
 * Distances on the earth, for the delivery radius at checkout, the couriers near a market
 * and the estimated arrival of a delivery. Pure functions.
 */
#ifndef SF_GEO_H
#define SF_GEO_H

#include <stdint.h>

/* The great-circle (haversine) distance between two points given in degrees, in whole
 * metres, on a sphere of the earth's mean radius. */
int64_t geo_distance_m(double lat1, double lng1, double lat2, double lng2);

#endif
