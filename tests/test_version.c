/* SPDX-License-Identifier: MIT */
/*
 * test_version.c - the version macros and fut_version(), fut_version_string()
 *
 * The library and the header it is tested with come from the same tree,
 * so the run-time version must equal the compile-time one; the string
 * must be the three macros in "MAJOR.MINOR.PATCH" form and the number
 * their (MAJOR << 16) | (MINOR << 8) | PATCH packing.
 */
#include "testutil.h"

START_TEST(version_number_matches_header)
{
    ck_assert_uint_eq(fut_version(), FUTURES_VERSION);
    ck_assert_uint_eq(fut_version() >> 16, FUTURES_VERSION_MAJOR);
    ck_assert_uint_eq((fut_version() >> 8) & 0xffu, FUTURES_VERSION_MINOR);
    ck_assert_uint_eq(fut_version() & 0xffu, FUTURES_VERSION_PATCH);
}
END_TEST

START_TEST(version_string_is_major_minor_patch)
{
    const char *s = fut_version_string();
    ck_assert_ptr_nonnull(s);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", FUTURES_VERSION_MAJOR, FUTURES_VERSION_MINOR,
             FUTURES_VERSION_PATCH);
    ck_assert_str_eq(s, want);
    /* Only digits and exactly two dots: no suffix a parser would trip on. */
    int dots = 0;
    for (const char *c = s; *c; c++) {
        if (*c == '.')
            dots++;
        else
            ck_assert_msg(*c >= '0' && *c <= '9', "unexpected '%c' in \"%s\"", *c, s);
    }
    ck_assert_int_eq(dots, 2);
    unsigned ma = 0, mi = 0, pa = 0;
    ck_assert_int_eq(sscanf(s, "%u.%u.%u", &ma, &mi, &pa), 3);
    ck_assert_uint_eq((ma << 16) | (mi << 8) | pa, fut_version());
}
END_TEST

START_TEST(version_string_is_static)
{
    /* The same string every time, usable without freeing. */
    ck_assert_ptr_eq(fut_version_string(), fut_version_string());
}
END_TEST

START_TEST(version_macro_compares_at_compile_time)
{
#if FUTURES_VERSION < 0x000200
    ck_abort_msg("FUTURES_VERSION %#x is older than 0.2.0, the first to carry it",
                 (unsigned)FUTURES_VERSION);
#endif
    ck_assert(FUTURES_VERSION_MINOR < 256 && FUTURES_VERSION_PATCH < 256);
}
END_TEST

static Suite *version_suite(void)
{
    Suite *s = suite_create("version");
    TCase *tc = tcase_create("version");
    tcase_add_test(tc, version_number_matches_header);
    tcase_add_test(tc, version_string_is_major_minor_patch);
    tcase_add_test(tc, version_string_is_static);
    tcase_add_test(tc, version_macro_compares_at_compile_time);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(version_suite)
