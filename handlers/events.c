/*
 * Live updates: GET /v1/events (docs/events.md, DESIGN.md "Live updates"). A ROUTE_STREAM
 * route: on a worker thread the token is checked (consumers, vendors and couriers; an
 * operator gets 403, having no party of its own), the resume point is read, and the handler
 * names the caller's party; the HTTP layer (server/http/sse.c) then keeps the stream open
 * on the loop thread, replays what came after the resume point and pushes what comes next.
 *
 * The resume point is the Last-Event-ID header (EventSource sends it on reconnecting), or
 * the query parameter last_event_id for clients that cannot set headers; the header wins.
 * A value that is not a stream id "<ms>-<seq>" is refused (422) rather than ignored, so a
 * client never believes it resumed when it did not.
 */
#include <stdio.h>
#include <string.h>
#include "handlers/handlers.h"
#include "models/events.h"
#include "server/http/api.h"
#include "server/http/valid.h"

/* The caller's party: "consumer:<user id>", "vendor:<vendor id>", "courier:<courier id>". */
static sf_status_t party_of(const principal_t *who, char *party, size_t len, status_detail_t *d)
{
    int rc = -1;
    if (who->role == ROLE_CONSUMER)
        rc = events_party(party, len, "consumer", who->user_id);
    else if (who->role == ROLE_VENDOR && who->vendor_id > 0)
        rc = events_party(party, len, "vendor", who->vendor_id);
    else if (who->role == ROLE_COURIER && who->courier_id > 0)
        rc = events_party(party, len, "courier", who->courier_id);
    return rc == 0 ? SF_OK : status_field(d, SF_E_FORBIDDEN, NULL, "this session has no event stream");
}

/* Last-Event-ID, else ?last_event_id=, into after ("" for none). */
static sf_status_t resume_point(const api_req_t *req, char *after, size_t len, status_detail_t *d)
{
    const char *h = api_header(req, "last-event-id");
    int q = 0;
    after[0] = '\0';
    if (h != NULL && h[0] != '\0') {
        if (strlen(h) >= len || valid_parse_event_id(h, strlen(h), NULL, NULL) != 0)
            return status_field(d, SF_E_INVALID, "Last-Event-ID", "not an event id (<ms>-<seq>)");
        snprintf(after, len, "%s", h);
        return SF_OK;
    }
    if ((q = api_query(req, "last_event_id", after, len)) < 0 ||
        (q == 1 && valid_parse_event_id(after, strlen(after), NULL, NULL) != 0)) {
        after[0] = '\0';
        return status_field(d, SF_E_INVALID, "last_event_id", "not an event id (<ms>-<seq>)");
    }
    return SF_OK;
}

static void stream(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    char party[EVENTS_PARTY_MAX], after[EVENTS_ID_MAX];
    sf_status_t rc = resume_point(req, after, sizeof(after), &d);
    if (rc == SF_OK)
        rc = party_of(&req->who, party, sizeof(party), &d);
    if (rc == SF_OK)
        api_reply_stream(req, party, after);
    else
        api_reply_status(req, w, rc, &d);
}

int events_register(router_t *r)
{
    return router_add(r, "GET", "/v1/events", ROUTE_STREAM | ROUTE_CONSUMER | ROUTE_VENDOR | ROUTE_COURIER, stream);
}
