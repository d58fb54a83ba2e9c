/* SPDX-License-Identifier: MIT */
/*
 * What the backend families share (encoder-family.h): the option setters
 * their operations call and the two shapes of rate control several
 * families have (qp alone; a mode option and qp).
 */
#include "encoder-family.h"

#include <stdio.h>

#include <libavutil/error.h>
#include <libavutil/opt.h>

#include "util/log.h"

void family_set(const struct family_call *c, const char *key, const char *val)
{
    int ret = av_opt_set(c->ctx->priv_data, key, val, 0);
    if (ret < 0)
        hfx_log(c->log, c->log_user, HFX_LOG_DEBUG, "%s: option %s=%s not applied: %s", c->backend,
                key, val, av_err2str(ret));
}

void family_set_int(const struct family_call *c, const char *key, int64_t val)
{
    char text[24];
    snprintf(text, sizeof(text), "%lld", (long long)val);
    family_set(c, key, text);
}

void family_rate_control_qp(const struct family_call *c)
{
    if (c->cfg->rate_control == HFX_RC_CQP)
        family_set_int(c, "qp", c->cfg->quality);
}

void family_rate_control_mode(const struct family_call *c, const char *key, const char *cbr,
                              const char *cqp)
{
    if (c->cfg->rate_control == HFX_RC_CBR)
        family_set(c, key, cbr);
    else if (c->cfg->rate_control == HFX_RC_CQP)
        family_set(c, key, cqp);
    family_rate_control_qp(c);
}
