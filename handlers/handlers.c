/*
 * The list of handler files. A new resource group adds its *_register() here.
 */
#include "handlers/handlers.h"

int handlers_register_all(router_t *r, const config_t *cfg)
{
    if (health_register(r) != 0 || signin_register(r) != 0 || markets_register(r) != 0 || products_register(r) != 0 ||
        vendor_register(r) != 0 || operator_register(r) != 0 || cart_register(r) != 0 || orders_register(r) != 0 ||
        payments_register(r) != 0)
        return -1;
    if (paynotify_register(r) != 0)
        return -1;
    if (events_register(r) != 0 || fulfil_register(r) != 0 || feedback_register(r) != 0 || courier_register(r) != 0 ||
        deliveries_register(r) != 0)
        return -1;
    if (platform_clients_register(r) != 0 || platform_register(r) != 0 || feed_register(r) != 0 ||
        stats_register(r) != 0)
        return -1;
    if (cfg->test_routes && testing_register(r) != 0)
        return -1;
    return 0;
}
