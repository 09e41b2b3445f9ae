/*
 * scheduler/api_triggers.c - the triggers operations of the HTTP API (being written).
 */
#include "scheduler/api.h"

const struct sl_api_op sl_api_triggers_ops[] = {
    {NULL, NULL, NULL},
};
