/* The sandbox payer's notifications (models/providers/sandbox.c): what it signs verifies as
 * the provider's own would, through the same checks the callbacks run, and carries the
 * payment's trade number and amount. */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/providers/alipay.h"
#include "models/providers/sandbox.h"
#include "models/providers/wxpay.h"
#include "tests/support/testkeys.h"
#include "tests/support/testutil.h"

#define SERIAL    "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
#define MCHID     "1900000001"
#define APPID     "wx0000000000000001"
#define APP_ID    "2021000000000001"
#define SELLER_ID "2088000000000001"

static const unsigned char APIV3_KEY[WXPAY_APIV3_KEY_LEN + 1] = "0123456789abcdef0123456789abcdef";
static const wxpay_merchant_t MERCHANT = {MCHID, APPID, APIV3_KEY};
static const sandbox_payment_t PAYMENT = {
    .out_trade_no = "P20260101000001", .order_no = "SF20260101000001", .openid = "o-payer", .amount_fen = 1234};

/* The value of header `name` among the notice's lines, or NULL. */
static const char *header(const sandbox_notice_t *n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; n->headers[i] != NULL; i++)
        if (strncmp(n->headers[i], name, len) == 0 && strncmp(n->headers[i] + len, ": ", 2) == 0)
            return n->headers[i] + len + 2;
    return NULL;
}

START_TEST(test_a_wechat_notice_verifies_as_a_wechat_pay_notification)
{
    EVP_PKEY *key = alipay_private_key(T_FIXED_RSA_PEM, strlen(T_FIXED_RSA_PEM));
    wxpay_keys_t *keys = wxpay_keys_new();
    sandbox_notice_t n;
    wxpay_notify_t ev;
    char err[256];
    int64_t now = (int64_t)time(NULL);
    ck_assert(key != NULL && keys != NULL && wxpay_keys_add(keys, SERIAL, key) == WXPAY_OK);
    ck_assert_int_eq(sandbox_wechat_sign(key, SERIAL, &MERCHANT, &PAYMENT, now, &n), SF_OK);
    ck_assert_str_eq(header(&n, "Content-Type"), "application/json");
    wxpay_headers_t h = {.timestamp = header(&n, "Wechatpay-Timestamp"),
                         .nonce = header(&n, "Wechatpay-Nonce"),
                         .signature = header(&n, "Wechatpay-Signature"),
                         .serial = header(&n, "Wechatpay-Serial"),
                         .signature_type = header(&n, "Wechatpay-Signature-Type")};
    ck_assert_msg(wxpay_verify_notify(keys, &MERCHANT, &h, n.body, n.len, now, &ev, err, sizeof(err)) == WXPAY_OK, "%s",
                  err);
    ck_assert_str_eq(ev.event_type, "TRANSACTION.SUCCESS");
    ck_assert_str_eq(ev.out_trade_no, PAYMENT.out_trade_no);
    ck_assert_str_eq(ev.trade_state, "SUCCESS");
    ck_assert_str_eq(ev.openid, "o-payer");
    ck_assert_int_eq(ev.total_fen, 1234);
    ck_assert(strncmp(ev.transaction_id, "4200", 4) == 0);
    sandbox_notice_free(&n);
    wxpay_keys_free(keys);
    EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_an_alipay_notice_verifies_as_an_alipay_notification)
{
    EVP_PKEY *key = alipay_private_key(T_FIXED_RSA_PEM, strlen(T_FIXED_RSA_PEM));
    const alipay_expect_t expect = {APP_ID, SELLER_ID};
    sandbox_notice_t n;
    alipay_notify_t ev;
    char err[256];
    ck_assert_ptr_nonnull(key);
    ck_assert_int_eq(sandbox_alipay_sign(key, APP_ID, SELLER_ID, &PAYMENT, (int64_t)time(NULL), &n), SF_OK);
    ck_assert_str_eq(header(&n, "Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
    ck_assert_ptr_null(n.headers[1]);
    ck_assert_msg(alipay_verify_notify(key, n.body, n.len, &expect, &ev, err, sizeof(err)) == ALIPAY_OK, "%s", err);
    ck_assert_str_eq(ev.out_trade_no, PAYMENT.out_trade_no);
    ck_assert_str_eq(ev.trade_status, "TRADE_SUCCESS");
    ck_assert_int_eq(ev.total_fen, 1234);
    sandbox_notice_free(&n);
    EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_a_notice_signed_by_another_key_does_not_verify)
{
    EVP_PKEY *key = alipay_private_key(T_FIXED_RSA_PEM, strlen(T_FIXED_RSA_PEM)), *other = EVP_RSA_gen(2048);
    const alipay_expect_t expect = {APP_ID, SELLER_ID};
    sandbox_notice_t n;
    alipay_notify_t ev;
    ck_assert(key != NULL && other != NULL);
    ck_assert_int_eq(sandbox_alipay_sign(other, APP_ID, SELLER_ID, &PAYMENT, (int64_t)time(NULL), &n), SF_OK);
    ck_assert_int_ne(alipay_verify_notify(key, n.body, n.len, &expect, &ev, NULL, 0), ALIPAY_OK);
    sandbox_notice_free(&n);
    EVP_PKEY_free(other);
    EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_each_provider_reads_its_own_acknowledgement)
{
    ck_assert(sandbox_wechat_acknowledged(200, ""));
    ck_assert(sandbox_wechat_acknowledged(204, ""));
    ck_assert(!sandbox_wechat_acknowledged(401, "{}"));
    ck_assert(sandbox_alipay_acknowledged(200, "success"));
    ck_assert(!sandbox_alipay_acknowledged(200, "fail"));
    ck_assert(!sandbox_alipay_acknowledged(200, "success\n"));
    ck_assert(!sandbox_alipay_acknowledged(500, "success"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sandbox");
    TCase *tc = tcase_create("sandbox");
    tcase_add_test(tc, test_a_wechat_notice_verifies_as_a_wechat_pay_notification);
    tcase_add_test(tc, test_an_alipay_notice_verifies_as_an_alipay_notification);
    tcase_add_test(tc, test_a_notice_signed_by_another_key_does_not_verify);
    tcase_add_test(tc, test_each_provider_reads_its_own_acknowledgement);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
