/*
 * Tests for api/http_status.c: which HTTP status each storage result
 * answers with (the table of DESIGN.md, "HTTP contract", and the comment
 * in http_status.h), and the reason phrases of the CGI "Status:" line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/http_status.h"
#include "util/status.h"

static void
test_http_status_maps_every_status_to_its_documented_code(void **state)
{
    static const struct {
        st_status s;
        int code;
    } table[] = {
        {ST_OK, 200},          {ST_NOT_FOUND, 404}, {ST_INVALID, 400},
        {ST_CORRUPT, 500},     {ST_IO, 500},        {ST_NOMEM, 500},
        {ST_UNSUPPORTED, 501}, {ST_READONLY, 503},  {ST_BUSY, 503},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        assert_int_equal(http_status_for(table[i].s), table[i].code);
}

static void
test_http_status_unknown_status_is_a_server_error(void **state)
{
    /* A value outside the enum (a newer engine, memory damage) must not
     * turn into a success. */
    assert_int_equal(http_status_for((st_status)999), 500);
}

static void
test_http_reason_names_the_codes_strata_answers(void **state)
{
    static const struct {
        int code;
        const char *reason;
    } table[] = {
        {200, "OK"},
        {400, "Bad Request"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {411, "Length Required"},
        {413, "Content Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        assert_string_equal(http_reason(table[i].code), table[i].reason);
}

static void
test_http_reason_unknown_code_is_unknown(void **state)
{
    assert_string_equal(http_reason(0), "Unknown");
    assert_string_equal(http_reason(201), "Unknown");
    assert_string_equal(http_reason(418), "Unknown");
    assert_string_equal(http_reason(999), "Unknown");
    assert_string_equal(http_reason(-1), "Unknown");
}

static void
test_http_reason_exists_for_every_mapped_status(void **state)
{
    /* Whatever a store result maps to, the status line has a name. */
    for (int s = ST_OK; s <= ST_BUSY; s++) {
        const char *reason = http_reason(http_status_for((st_status)s));
        assert_non_null(reason);
        assert_string_not_equal(reason, "Unknown");
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_http_status_maps_every_status_to_its_documented_code),
        cmocka_unit_test(test_http_status_unknown_status_is_a_server_error),
        cmocka_unit_test(test_http_reason_names_the_codes_strata_answers),
        cmocka_unit_test(test_http_reason_unknown_code_is_unknown),
        cmocka_unit_test(test_http_reason_exists_for_every_mapped_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
