/*
 * Every handler file exports one <file>_register(router_t *) that adds its routes; the
 * server calls handlers_register_all() once at start-up, before the loop threads run.
 */
#ifndef SF_HANDLERS_H
#define SF_HANDLERS_H

#include "models/base/config.h"
#include "server/http/router.h"

int health_register(router_t *r);
int signin_register(router_t *r);
int markets_register(router_t *r);
int products_register(router_t *r);
int vendor_register(router_t *r);
int operator_register(router_t *r);
int cart_register(router_t *r);
int orders_register(router_t *r);
int payments_register(router_t *r);
int paynotify_register(router_t *r);
int events_register(router_t *r);
int testing_register(router_t *r);
int fulfil_register(router_t *r);
int feedback_register(router_t *r);
int courier_register(router_t *r);
int deliveries_register(router_t *r);
int platform_clients_register(router_t *r);
int platform_register(router_t *r);
int feed_register(router_t *r);
int stats_register(router_t *r);

/* Registers every route of the API; -1 on a programming error (bad or duplicate pattern). */
int handlers_register_all(router_t *r, const config_t *cfg);

#endif
