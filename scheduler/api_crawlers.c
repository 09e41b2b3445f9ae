/*
 * scheduler/api_crawlers.c - the crawlers operations of the HTTP API (being written).
 */
#include "scheduler/api.h"

const struct sl_api_op sl_api_crawlers_ops[] = {
    {NULL, NULL, NULL},
};
