"""Engagement and CRM activity: email/web/product events, meetings, deals, tickets, usage, enrichment,
signals and lead intake. Every volume and outcome is driven by the hidden fit/intent of the people.

All generators are vectorized over events (numpy repeat + polars string building); Python loops only
touch rare rows (reply texts, enrichment profiles).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from . import vocab as V
from .util import DAY, HOUR, ascii_slug, masked, take, ts_date, ts_hub, ts_iso

COUNTRY_NAME = {c: V.COUNTRIES[c]["name"] for c in V.COUNTRIES}
_CLASS_IDX = {c: i for i, c in enumerate(V.REPLY_CLASSES)}


def _with_ids(df: pl.DataFrame, col: str, prefix: str, start: int, width: int = 9) -> pl.DataFrame:
    return df.with_columns(pl.concat_str([pl.lit(prefix), pl.int_range(start, start + df.height, dtype=pl.Int64)
                                          .cast(pl.String).str.zfill(width)]).alias(col))


def _recency_times(rng, n, t0, t1, skew):
    """Timestamps in [t0, t1); skew > 0 pushes them toward t1 (recent activity for high intent)."""
    u = rng.random(n) ** (1.0 / (1.0 + skew))
    return (t0 + u * (t1 - t0)).astype(np.int64)


# ------------------------------------------------------------------------------------------------- email
def email_events(rng: np.random.Generator, recs: pl.DataFrame, t0: int, t1: int, sends_scale: float,
                 first_event_id: int, first_message_id: int) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Outbound sends and their outcomes per contact record (a duplicate record gets its own sends).

    Returns (events, replies truth, number of messages sent).
    """
    r = recs.filter((pl.col("email") != "") & ~pl.col("unsubscribed"))
    fit = r["fit"].to_numpy()
    intent = r["intent"].to_numpy()
    lam = sends_scale * (1.5 + 4.2 * fit + 2.0 * intent)
    n_s = rng.poisson(lam)
    si = np.repeat(np.arange(r.height), n_s)
    ns = len(si)
    fit_s, int_s = fit[si], intent[si]
    conv_s = r["converted"].to_numpy()[si]
    conv_at = r["converted_at"].fill_null(t1).to_numpy()[si]
    t_send = _recency_times(rng, ns, t0, t1, 1.5 * int_s)
    u = rng.random((ns, 8))
    bounce = u[:, 0] < 0.03
    delivered = ~bounce
    # Opens/clicks/replies rise with intent; close to a conversion people engage more.
    near = conv_s & (t_send > conv_at - 21 * DAY) & (t_send < conv_at)
    p_open = np.clip(0.12 + 0.55 * int_s + 0.2 * near, 0, 0.95)
    opened = delivered & (u[:, 1] < p_open)
    n_open = np.where(opened, 1 + rng.poisson(0.4 + 0.8 * int_s), 0)
    clicked = opened & (u[:, 2] < 0.04 + 0.35 * int_s + 0.15 * near)
    replied = delivered & (u[:, 3] < 0.006 + 0.05 * int_s * (0.5 + fit_s) + 0.12 * near)
    unsub = delivered & ~replied & (u[:, 4] < 0.003 + 0.008 * (1 - fit_s))
    spam = delivered & ~replied & (u[:, 5] < 0.0008 + 0.002 * (1 - int_s))
    camp = rng.integers(1, 40, r.height)[si]
    seq = (camp % 9) + 1
    msg = np.arange(first_message_id, first_message_id + ns)
    base = pl.DataFrame({"ri": si, "camp": camp, "seq": seq, "msg": msg, "t": t_send})

    def part(mask, typ, dt, url=None, reply=None, btype=None):
        idx = np.flatnonzero(mask) if mask is not None else np.arange(ns)
        f = base[idx].with_columns(type=pl.lit(typ), t=pl.Series(base["t"].to_numpy()[idx] + dt))
        f = f.with_columns(url=url if url is not None else pl.lit(None, dtype=pl.String),
                           reply_text=reply if reply is not None else pl.lit(None, dtype=pl.String),
                           bounce_type=btype if btype is not None else pl.lit(None, dtype=pl.String),
                           cls=pl.lit(None, dtype=pl.Int64))
        return f

    frames = [part(None, "sent", 0)]
    frames.append(part(delivered, "delivered", rng.integers(1, 90, int(delivered.sum()))))
    nb = int(bounce.sum())
    frames.append(part(bounce, "bounce", rng.integers(5, 600, nb),
                       btype=pl.Series(np.where(rng.random(nb) < 0.6, "hard", "soft"))))
    oi = np.repeat(np.flatnonzero(opened), n_open[opened])
    of = base[oi].with_columns(type=pl.lit("open"), t=pl.Series(
        base["t"].to_numpy()[oi] + (rng.exponential(5 * HOUR, len(oi)) * (1 + rng.random(len(oi)) * 3)).astype(
            np.int64) + 60), url=pl.lit(None, dtype=pl.String), reply_text=pl.lit(None, dtype=pl.String),
        bounce_type=pl.lit(None, dtype=pl.String), cls=pl.lit(None, dtype=pl.Int64))
    frames.append(of)
    nc = int(clicked.sum())
    ci = np.flatnonzero(clicked)
    # High-intent readers click through to pricing / demo more often.
    pr = rng.random(nc) < 0.2 + 0.5 * int_s[ci]
    path = np.where(pr, np.array(["/pricing", "/demo"])[rng.integers(0, 2, nc)],
                    np.array(V.EMAIL_CLICK_PATHS)[rng.integers(0, len(V.EMAIL_CLICK_PATHS), nc)])
    frames.append(part(clicked, "click", (rng.exponential(6 * HOUR, nc)).astype(np.int64) + 120,
                       url=pl.Series(np.char.add("https://actionhouse.io", path.astype(str)))))
    # Replies: class depends on the hidden person state.
    ri = np.flatnonzero(replied)
    nr = len(ri)
    rr = r[si[ri]]
    buyer = rr["role"].is_in(["sales", "marketing", "operations", "executive"]).to_numpy()
    fr, ir, cr = fit_s[ri], int_s[ri], near[ri]
    w = np.stack([
        0.05 + 1.6 * fr * ir + 1.5 * cr,                 # positive
        0.35 + 0.2 * fr,                                 # objection
        0.35 + 0.3 * (1 - ir),                           # not_now
        0.12 + 0.25 * (1 - fr),                          # unsubscribe
        0.05 + 0.45 * (~buyer),                          # wrong_person_referral
        np.full(nr, 0.035),                              # compliance_threat
    ], axis=1)
    cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    cls = (rng.random(nr)[:, None] > cum).sum(axis=1).clip(0, 5)
    texts, asks_meeting = _reply_texts(rng, cls, rr)
    rf = part(replied, "reply", (rng.exponential(18 * HOUR, nr)).astype(np.int64) + 300,
              reply=pl.Series(texts, dtype=pl.String)).with_columns(cls=pl.Series(cls, dtype=pl.Int64),
                                                                    asks_meeting=pl.Series(asks_meeting))
    frames.append(rf)
    frames.append(part(unsub, "unsubscribe", (rng.exponential(8 * HOUR, int(unsub.sum()))).astype(np.int64) + 200))
    frames.append(part(spam, "spam_report", (rng.exponential(8 * HOUR, int(spam.sum()))).astype(np.int64) + 200))
    ev = pl.concat(frames, how="diagonal").filter(pl.col("t") < t1).sort(["t", "msg", "type"])
    ev = _with_ids(ev, "event_id", "e-", first_event_id, 10)
    rsel = r.select(pl.col("email"), pl.col("record_id"), pl.col("person_id"))
    ev = ev.with_columns(email=rsel["email"].gather(ev["ri"]),
                         contact_record_id=rsel["record_id"].gather(ev["ri"]).cast(pl.String),
                         person_id=rsel["person_id"].gather(ev["ri"]))
    replies = ev.filter(pl.col("type") == "reply").select(
        "event_id", pl.col("cls").replace_strict(dict(enumerate(V.REPLY_CLASSES)), return_dtype=pl.String)
        .alias("true_class"), pl.col("contact_record_id").cast(pl.Int64).alias("record_id"), "person_id",
        "reply_text", pl.col("asks_meeting").fill_null(False).alias("asks_for_meeting"))
    out = ev.select(
        "event_id", "type", "email", "contact_record_id",
        pl.concat_str([pl.lit("c-"), pl.col("camp").cast(pl.String)]).alias("campaign_id"),
        pl.concat_str([pl.lit("s-"), pl.col("seq").cast(pl.String)]).alias("sequence_id"),
        pl.concat_str([pl.lit("m-"), pl.col("msg").cast(pl.String)]).alias("message_id"),
        ts_iso("t").alias("timestamp"), "url", "reply_text", "bounce_type",
    )
    return out, replies, ns


def _reply_texts(rng, cls, rr: pl.DataFrame) -> tuple[list[str], list[bool]]:
    """Reply texts per class, and whether each asks for a meeting (truth for meeting-intent detection)."""
    firsts = [o[0].split()[0] for o in V.OWNERS]
    comp = rr["company_name"].to_list()
    tpl_u = rng.random(len(cls))
    snd = rng.integers(0, len(firsts), len(cls))
    col_f = rng.integers(0, len(V.FIRST_NAMES), len(cls))
    col_l = rng.integers(0, len(V.LAST_NAMES), len(cls))
    out, asks = [], []
    for i, c in enumerate(cls):
        tpls = V.REPLY_TEMPLATES[V.REPLY_CLASSES[c]]
        t = tpls[int(tpl_u[i] * len(tpls))]
        out.append(t.format(first=firsts[snd[i]], company=comp[i],
                            colleague=f"{V.FIRST_NAMES[col_f[i]]} {V.LAST_NAMES[col_l[i]]}"))
        asks.append(t in V.MEETING_REQUEST_TEMPLATES)
    return out, asks


# --------------------------------------------------------------------------------------------------- web
_PAGE_KINDS = ["pricing", "demo", "product", "docs", "blog", "home", "other"]


# A person's web visits lean toward the end of a window by 1 + this x intent (`_recency_times`): interest builds up.
WEB_RECENCY_SKEW = 2.0


def web_hour_scale(people: pl.DataFrame, history_seconds: int) -> np.ndarray:
    """Per person, the `web_events` scale of one hour that goes on at the rate the generated history ended with.

    Over a history of `history_seconds` at scale 1, a person's visits have density (1 + skew) / history at its end
    (`_recency_times` with skew = WEB_RECENCY_SKEW x intent), so one hour at that density is scale
    (1 + skew) x HOUR / history. Drawn at any other rate, the hours after the history shift every lead's decayed
    web-visit feature away from what the scores were trained on, and the drift gate stops scoring.
    """
    return (1.0 + WEB_RECENCY_SKEW * people["intent"].to_numpy()) * HOUR / history_seconds


def web_events(rng: np.random.Generator, people: pl.DataFrame, t0: int, t1: int, scale: float | np.ndarray,
               first_msg: int, anon_share: float = 0.15) -> tuple[list[pl.DataFrame], int]:
    """Segment page/track/identify events. Returns (frames, number of messages).

    `scale` multiplies each person's expected visits over [t0, t1): one number, or one per person.
    """
    n = people.height
    intent = people["intent"].to_numpy()
    fit = people["fit"].to_numpy()
    conv = people["converted"].to_numpy()
    conv_at = people["converted_at"].fill_null(t1).to_numpy()
    lam = scale * (1.6 + 34.0 * intent ** 1.4)
    k = rng.poisson(lam)
    # People about to convert do their research in the two weeks before.
    k_ramp = np.where(conv & (conv_at >= t0) & (conv_at <= t1), rng.poisson(3.0 * scale ** 0.5 + 2, n), 0)
    pi = np.concatenate([np.repeat(np.arange(n), k), np.repeat(np.arange(n), k_ramp)])
    t = np.concatenate([
        _recency_times(rng, int(k.sum()), t0, t1, WEB_RECENCY_SKEW * intent[np.repeat(np.arange(n), k)]),
        (np.repeat(conv_at, k_ramp) - rng.random(int(k_ramp.sum())) * 14 * DAY).astype(np.int64),
    ])
    keep = (t >= t0) & (t < t1)
    pi, t = pi[keep], t[keep]
    # Anonymous (never identified) visitors: noise the pipeline cannot tie to a contact.
    n_anon = int(len(pi) * anon_share)
    m = len(pi) + n_anon
    ip_ = intent[pi]
    eng_role = people["role"].is_in(["engineering", "it", "product"]).to_numpy()[pi]
    w = np.stack([
        0.04 + 0.45 * ip_ ** 1.2, 0.01 + 0.08 * ip_, np.full(len(pi), 0.25),
        0.08 + 0.5 * eng_role, 0.35 * (1.2 - ip_), np.full(len(pi), 0.25), np.full(len(pi), 0.06)], axis=1)
    w_anon = np.tile(np.array([0.05, 0.01, 0.25, 0.15, 0.45, 0.3, 0.08]), (n_anon, 1))
    w = np.concatenate([w, w_anon])
    cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    kind = (rng.random(m)[:, None] > cum).sum(axis=1).clip(0, len(_PAGE_KINDS) - 1)
    pages_by_kind = {kd: [p for p in V.WEB_PAGES if p[2] == kd] for kd in _PAGE_KINDS}
    page_idx = np.zeros(m, dtype=np.int64)
    pu = rng.random(m)
    for j, kd in enumerate(_PAGE_KINDS):
        sel = kind == j
        opts = [V.WEB_PAGES.index(p) for p in pages_by_kind[kd]]
        page_idx[sel] = np.array(opts)[(pu[sel] * len(opts)).astype(int)]
    t_all = np.concatenate([t, rng.integers(t0, t1, n_anon)])
    person_all = np.concatenate([pi, np.full(n_anon, -1)])
    identified = people["identified"].to_numpy() if "identified" in people.columns else rng.random(n) < 0.6
    known = np.concatenate([identified[pi], np.zeros(n_anon, dtype=bool)])
    # Track events: some page views come with an action; demo requests cluster before conversion.
    is_track = rng.random(m) < 0.08
    demo_bias = np.concatenate([conv[pi] & (t > conv_at[pi] - 14 * DAY), np.zeros(n_anon, dtype=bool)])
    tr_ev = np.where(demo_bias & (rng.random(m) < 0.5), 0, rng.integers(1, len(V.WEB_TRACK_EVENTS), m))
    tr_ev = np.where(np.concatenate([fit[pi] < 0.15, np.zeros(n_anon, bool)]) & (tr_ev == 0), 2, tr_ev)
    pid = people["person_id"].to_numpy()
    anon_seed = rng.integers(10 ** 11, 10 ** 12, n_anon)
    anon_id = np.concatenate([pid[pi] * 7919 + 10 ** 12, anon_seed])
    emails = people["email"]
    df = pl.DataFrame({
        "p": person_all, "t": t_all, "page": page_idx, "track": is_track, "tev": tr_ev, "known": known,
        "anon": anon_id,
        "ip": rng.integers(1, 223, m), "ip2": rng.integers(0, 255, (m,)), "ip3": rng.integers(0, 255, m),
        "ua": rng.integers(0, len(V.USER_AGENTS), m), "ref": rng.integers(0, len(V.REFERRERS), m),
    }).sort("t")
    df = _with_ids(df, "messageId", "wm-", first_msg, 10)
    paths = [p[0] for p in V.WEB_PAGES]
    titles = [p[1] for p in V.WEB_PAGES]
    df = df.with_columns(
        path=take(paths, df["page"].to_numpy()), title=take(titles, df["page"].to_numpy()),
        referrer=take(V.REFERRERS, df["ref"].to_numpy()),
        userAgent=take(V.USER_AGENTS, df["ua"].to_numpy()),
        userId=pl.when(pl.col("known")).then(emails.gather(df["p"].clip(0, None))).otherwise(None),
        anonymousId=pl.concat_str([pl.lit("anon-"), pl.col("anon").cast(pl.String)]),
        ipaddr=pl.concat_str([pl.col("ip").cast(pl.String), pl.lit("."), pl.col("ip2").cast(pl.String),
                              pl.lit("."), pl.col("ip3").cast(pl.String), pl.lit(".1")]),
        timestamp=ts_iso("t"),
    ).with_columns(url=pl.concat_str([pl.lit("https://actionhouse.io"), pl.col("path")]))
    ctx = pl.struct(pl.col("ipaddr").alias("ip"), pl.col("userAgent"),
                    pl.struct(pl.col("url"), pl.col("referrer"), pl.col("path")).alias("page"))
    pages = df.filter(~pl.col("track")).select(
        pl.lit("page").alias("type"), "messageId", "anonymousId", "userId",
        pl.col("title").alias("name"),
        pl.struct("path", "url", "title", "referrer").alias("properties"),
        ctx.alias("context"), "timestamp")
    tracks = df.filter(pl.col("track")).select(
        pl.lit("track").alias("type"), "messageId", "anonymousId", "userId",
        take(V.WEB_TRACK_EVENTS, df.filter(pl.col("track"))["tev"].to_numpy()).alias("event"),
        pl.struct("path", "url").alias("properties"), ctx.alias("context"), "timestamp")
    # One identify call per identified person seen on the site.
    idp = df.filter(pl.col("known")).group_by("p").agg(pl.col("t").min(), pl.col("anonymousId").first()).sort("p")
    pe = people[idp["p"].to_numpy()]
    ident = pl.DataFrame({
        "type": ["identify"] * idp.height, "anonymousId": idp["anonymousId"], "userId": pe["email"],
        "traits": pe.select(pl.struct(pl.col("email"), pl.col("first_name").alias("firstName"),
                                      pl.col("last_name").alias("lastName"),
                                      pl.col("company_name").alias("company"))).to_series(),
        "t": idp["t"],
    })
    ident = _with_ids(ident, "messageId", "wi-", first_msg, 10).select(
        "type", "messageId", "anonymousId", "userId", "traits", ts_iso("t").alias("timestamp"))
    return [pages, tracks, ident], m


# ----------------------------------------------------------------------------------------------- product
def product_events(rng: np.random.Generator, people: pl.DataFrame, accounts: pl.DataFrame, t0: int, t1: int,
                   scale: float, first_msg: int) -> tuple[pl.DataFrame, int]:
    """Product analytics (Segment track) for people at customer accounts; at-risk accounts fade out."""
    cust = people.filter(pl.col("is_customer"))
    cust = cust.join(accounts.select("account_id", "at_risk"), on="account_id", how="left", maintain_order="left")
    n = cust.height
    if n == 0:
        return pl.DataFrame(), 0
    user = rng.random(n) < 0.75
    lam = scale * user * (15 + 100 * rng.beta(2, 3, n)) * np.where(cust["at_risk"].to_numpy(), 0.7, 1.0)
    k = rng.poisson(lam)
    pi = np.repeat(np.arange(n), k)
    m = len(pi)
    risk = cust["at_risk"].to_numpy()[pi]
    # At-risk accounts: activity concentrated early in the window (usage declining toward now).
    u = rng.random(m)
    u = np.where(risk, u ** 1.8, u)
    t = (t0 + u * (t1 - t0)).astype(np.int64)
    ev = rng.choice(len(V.PRODUCT_EVENTS), m, p=np.array([20, 10, 2, 3, 6, 2, 4, 5, 30]) / 82)
    df = pl.DataFrame({"p": pi, "t": t, "ev": ev}).sort("t")
    df = _with_ids(df, "messageId", "pm-", first_msg, 10)
    pe = cust.select("email", "domain", "person_id")
    df = df.with_columns(
        userId=pe["email"].gather(df["p"]), account_domain=pe["domain"].gather(df["p"]),
        anon=pe["person_id"].gather(df["p"]), event=take(V.PRODUCT_EVENTS, df["ev"].to_numpy()),
    )
    out = df.select(
        pl.lit("track").alias("type"), "messageId",
        pl.concat_str([pl.lit("anon-"), (pl.col("anon") * 7919 + 10 ** 12).cast(pl.String)]).alias("anonymousId"),
        "userId", "event",
        pl.struct(pl.col("account_domain"), pl.lit("growth").alias("plan")).alias("properties"),
        pl.struct(pl.lit("actionhouse-app").alias("app"), pl.lit("web").alias("platform")).alias("context"),
        ts_iso("t").alias("timestamp"),
    )
    return out, m


def product_usage(rng: np.random.Generator, accounts: pl.DataFrame, now: int, days: int) -> pl.DataFrame:
    """Daily usage rows for customer accounts; at-risk accounts decline 30-60% over the last 60 days."""
    c = accounts.filter(pl.col("is_customer"))
    n = c.height
    if n == 0:
        return pl.DataFrame()
    seats = np.maximum(3, (c["employees"].to_numpy() * rng.uniform(0.02, 0.15, n)).astype(np.int64))
    util = rng.uniform(0.45, 0.9, n)
    drop = np.where(c["at_risk"].to_numpy(), rng.uniform(0.3, 0.6, n), rng.uniform(-0.1, 0.1, n))
    ai = np.repeat(np.arange(n), days)
    d = np.tile(np.arange(days), n)  # 0 = oldest
    day_ts = now - (days - d) * DAY
    age = days - d
    trend = np.where(age < 60, 1 - drop[ai] * (60 - age) / 60, 1.0)
    dow = ((day_ts // DAY) + 4) % 7  # 0 = Monday
    weekend = np.where(dow >= 5, 0.25, 1.0)
    active = rng.poisson(np.maximum(0.1, seats[ai] * util[ai] * trend * weekend))
    sessions = active * 3 + rng.poisson(active * 1.5 + 0.1)
    key = rng.poisson(active * 4.0 + 0.1)
    return pl.DataFrame({
        "Account Domain": c["domain"].gather(ai), "t": day_ts, "Active Users": active, "Sessions": sessions,
        "Key Events": key, "Seats Purchased": seats[ai],
    }).select("Account Domain", ts_date("t").alias("Usage Date"),
              *[pl.col(x).cast(pl.String) for x in ("Active Users", "Sessions", "Key Events", "Seats Purchased")])


# ---------------------------------------------------------------------------------------- CRM activities
_STAGES = ["Appointment Scheduled", "Qualified To Buy", "Presentation Scheduled", "Decision Maker Bought-In",
           "Contract Sent", "Closed Won", "Closed Lost"]


def deals(rng: np.random.Generator, people: pl.DataFrame, accounts: pl.DataFrame, primary_rec: pl.DataFrame,
          company_rec: pl.DataFrame, now: int, first_id: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """New deals for converted people with an opportunity + historical won/lost deals per account.

    Closed outcomes follow hidden fit: fresh deals close won per the person's `won` draw (itself rising with fit)
    and a share of the others close lost once they have sat in the pipeline a while; historical deals are won at
    customer accounts (customers are more often good fit) and lost mostly at poor-fit prospects, and are tied to
    1-2 contacts of the account — won deals to the better-fit people (the buyer who signed), lost ones more
    often to poor-fit people (a deal run by the wrong persona stalls).
    """
    p = people.filter(pl.col("has_opportunity")).join(primary_rec, on="person_id", how="left",
                                                      maintain_order="left")
    n1 = p.height
    created1 = p["converted_at"].to_numpy() + rng.integers(0, 3 * DAY, n1)
    created1 = np.minimum(created1, now - HOUR)
    # Fresh deals progress ~one stage per week; won ones may already be closed.
    age_w = (now - created1) / (7 * DAY)
    stage1 = np.minimum((age_w * rng.uniform(0.6, 1.6, n1)).astype(int), 4)
    won1 = p["won"].to_numpy()
    closed_won = won1 & (stage1 >= 4) & (rng.random(n1) < 0.5)
    stage1 = np.where(closed_won, 5, stage1)
    # Deals that will not be won: the older they are, the likelier the rep already closed them lost (after
    # the stages reached so far); a loss dated after `now` has not happened yet and the deal stays open.
    lost1 = ~won1 & (rng.random(n1) < np.minimum(0.6, 0.1 + 0.2 * age_w))
    new = pl.DataFrame({"account_id": p["account_id"], "contact": p["record_id"],
                        "contacts": p["record_id"].cast(pl.String), "created": created1,
                        "last_stage": stage1, "lost": lost1, "fit": p["fit"],
                        "employees": p["employees"], "new": np.ones(n1, bool), "owner": p["owner"],
                        "company_name": p["company_name"]})
    # History: customers have a closed-won deal; prospects had a closed-lost one, poor-fit ones more often, so
    # the share of won among closed deals rises with account fit.
    a = accounts
    cust = a["is_customer"].to_numpy()
    lost = (~cust) & (rng.random(a.height) < 0.05 + 0.15 * (1 - a["acc_fit"].to_numpy()))
    hist = a.filter(pl.Series(cust | lost))
    hl = lost[cust | lost]
    nh = hist.height
    # Closed long enough ago that the whole stage history lies in the past.
    created_h = now - rng.integers(130, 720, nh) * DAY
    last_h = np.where(hl, rng.integers(0, 5, nh), 5)
    hist_contacts = _historic_deal_contacts(rng, people, primary_rec, hist["account_id"], hl)
    old = pl.DataFrame({"account_id": hist["account_id"], "lost": hl}).join(
        hist_contacts, on="account_id", how="left", maintain_order="left").select(
        "account_id", "contact", "contacts", pl.Series("created", created_h), pl.Series("last_stage", last_h),
        "lost", pl.Series("fit", hist["acc_fit"]), pl.Series("employees", hist["employees"]),
        pl.Series("new", np.zeros(nh, bool)), pl.Series("owner", hist["owner"]),
        pl.Series("company_name", hist["name"]))
    d = pl.concat([new, old], how="vertical_relaxed")
    m = d.height
    d = d.with_columns(record_id=pl.int_range(first_id, first_id + m, dtype=pl.Int64))
    d = d.join(company_rec, on="account_id", how="left", maintain_order="left")
    gaps = rng.integers(2 * DAY, 20 * DAY, (m, 6)).cumsum(axis=1)
    created = d["created"].to_numpy()
    last = d["last_stage"].to_numpy()
    is_lost = d["lost"].to_numpy()
    entered_at = created[:, None] + np.concatenate([np.zeros((m, 1), np.int64), gaps], axis=1)
    # A fresh deal is lost at a stage it already reached, some time before the next stage was due (and before
    # now); historical ones are lost when the next stage would have been entered.
    fresh_lost = is_lost & d["new"].to_numpy()
    last = np.where(fresh_lost, np.minimum(last, (entered_at[:, :5] < now).sum(axis=1) - 1), last)
    entered_last = entered_at[np.arange(m), np.minimum(last, 5)]
    lost_at = created + gaps[np.arange(m), np.minimum(last, 5)]
    lost_u = rng.uniform(0.2, 1.0, m)
    lost_at = np.where(fresh_lost, entered_last + (lost_u * (np.minimum(lost_at, now - HOUR) - entered_last))
                       .astype(np.int64), lost_at)
    cols = {}
    for j, st in enumerate(_STAGES[:6]):
        entered = entered_at[:, j]
        ok = (j <= last) & (entered < now)
        cols[f'Date entered "{st} (Sales Pipeline)"'] = masked(entered, ok)
    is_lost = is_lost & (lost_at < now)
    cols['Date entered "Closed Lost (Sales Pipeline)"'] = masked(np.minimum(lost_at, now - HOUR), is_lost)
    stage_name = np.where(is_lost, "Closed Lost", np.array(_STAGES)[np.minimum(last, 5)])
    amount = np.round(np.exp(rng.normal(np.log(8000 + 40 * d["employees"].to_numpy().clip(0, 5000)), 0.6)), -2)
    close = np.where(is_lost, lost_at, np.where(last == 5, created + gaps[:, 4], now + rng.integers(10, 90, m) * DAY))
    dtype = np.where(d["new"].to_numpy() & d["contact"].is_not_null().to_numpy(), "newbusiness",
                     np.where(rng.random(m) < 0.2, "existingbusiness", "newbusiness"))
    out = d.with_columns(**{k: v for k, v in cols.items()}).with_columns(
        stage=pl.Series(stage_name), amount=pl.Series(amount.astype(np.int64)), close=pl.Series(close),
        dtype_=pl.Series(dtype), mod=pl.Series(np.minimum(created + gaps[:, 5], now - 60)))
    # Some open deals have no amount or close date: the hygiene workflow flags these.
    miss = rng.random(m) < 0.12
    land = out.select(
        pl.col("record_id").cast(pl.String).alias("Record ID"),
        pl.concat_str([pl.col("company_name"), pl.lit(" - New Deal")]).alias("Deal Name"),
        pl.col("stage").alias("Deal Stage"), pl.lit("Sales Pipeline").alias("Pipeline"),
        pl.when(pl.Series(miss) & pl.col("new")).then(None).otherwise(pl.col("amount").cast(pl.String))
        .alias("Amount"),
        pl.when(pl.Series(miss) & pl.col("new")).then(None).otherwise(ts_date("close")).alias("Close Date"),
        ts_hub("created").alias("Create Date"), ts_hub("mod").alias("Last Modified Date"),
        pl.col("owner").alias("Deal owner"), pl.col("dtype_").alias("Deal Type"),
        pl.col("company_record_id").cast(pl.String).alias("Associated Company IDs"),
        pl.col("contacts").alias("Associated Contact IDs"),
        *[ts_hub(pl.col(k)).alias(k) for k in cols],
    )
    truth = out.select(pl.col("record_id").alias("deal_id"), "account_id",
                       pl.col("contact").alias("contact_record_id"),
                       pl.col("contacts").alias("contact_record_ids"), "stage", "new")
    return land, truth


def renewal_deals(rng: np.random.Generator, accounts: pl.DataFrame, company_rec: pl.DataFrame, now: int,
                  first_id: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One open renewal deal per customer account, closing on its renewal date, owned by the account owner.

    Drawn from a stream of their own with ids of their own (`ID_BASE["renewal_deal"]`), so adding them changed
    no other row of the world. Returns (landing rows, truth: deal id, account, renewal date, at risk).
    """
    c = accounts.filter(pl.col("is_customer")).join(company_rec, on="account_id", how="left", maintain_order="left")
    n = c.height
    if n == 0:
        return pl.DataFrame(), pl.DataFrame()
    renewal = c["renewal_at"].to_numpy()
    created = np.minimum(renewal - rng.integers(60, 120, n) * DAY, now - rng.integers(1, 30, n) * DAY)
    # Renewals sit early in the pipeline until the last month or two, then move to contract.
    stage = np.where(renewal - now < 45 * DAY, rng.integers(2, 5, n), rng.integers(0, 2, n))
    amount = np.round(np.exp(rng.normal(np.log(6000 + 30 * c["employees"].to_numpy().clip(0, 5000)), 0.4)), -2)
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    cols = {}
    for j, st in enumerate(_STAGES[:5]):
        entered = created + j * 7 * DAY
        cols[f'Date entered "{st} (Sales Pipeline)"'] = masked(entered, (j <= stage) & (entered < now))
    for st in _STAGES[5:]:
        cols[f'Date entered "{st} (Sales Pipeline)"'] = pl.Series([None] * n, dtype=pl.Int64)
    land = pl.DataFrame({"id": ids, "name": c["name"], "stage": np.array(_STAGES)[stage], "amount": amount,
                         "close": renewal, "created": created, "owner": c["owner"],
                         "company": c["company_record_id"], **cols}).select(
        pl.col("id").cast(pl.String).alias("Record ID"),
        pl.concat_str([pl.col("name"), pl.lit(" - Renewal")]).alias("Deal Name"),
        pl.col("stage").alias("Deal Stage"), pl.lit("Sales Pipeline").alias("Pipeline"),
        pl.col("amount").cast(pl.Int64).cast(pl.String).alias("Amount"), ts_date("close").alias("Close Date"),
        ts_hub("created").alias("Create Date"),
        ts_hub(pl.max_horizontal("created", *[pl.col(k) for k in cols])).alias("Last Modified Date"),
        pl.col("owner").alias("Deal owner"), pl.lit("existingbusiness").alias("Deal Type"),
        pl.col("company").cast(pl.String).alias("Associated Company IDs"),
        pl.lit(None, dtype=pl.String).alias("Associated Contact IDs"),
        *[ts_hub(pl.col(k)).alias(k) for k in cols],
    )
    truth = pl.DataFrame({"deal_id": ids, "account_id": c["account_id"], "renewal_at": renewal,
                          "at_risk": c["at_risk"]})
    return land, truth


def _historic_deal_contacts(rng: np.random.Generator, people: pl.DataFrame, primary_rec: pl.DataFrame,
                            account_ids: pl.Series, lost: np.ndarray) -> pl.DataFrame:
    """1-2 contact records per historical deal: per account, `contact` (the primary) and `contacts` (';'-joined).

    People are drawn without replacement (Gumbel top-k) with weight rising in hidden fit for won deals and
    falling for lost ones.
    """
    deals_ = pl.DataFrame({"account_id": account_ids, "_lost": lost, "_two": rng.random(len(lost)) < 0.4})
    pp = people.select("person_id", "account_id", "fit").join(primary_rec, on="person_id", how="inner",
                                                             maintain_order="left")
    pp = pp.join(deals_, on="account_id", how="inner", maintain_order="left")
    if pp.height == 0:
        return pl.DataFrame(schema={"account_id": pl.Int64, "contact": pl.Int64, "contacts": pl.String})
    fit = pp["fit"].to_numpy()
    weight = np.where(pp["_lost"].to_numpy(), 0.3 + (1 - fit), 0.05 + fit ** 1.5)
    key = np.log(rng.random(pp.height)) / weight
    pp = pp.with_columns(_key=pl.Series(key)).with_columns(
        _rank=pl.col("_key").rank("ordinal", descending=True).over("account_id"))
    pp = pp.filter((pl.col("_rank") == 1) | ((pl.col("_rank") == 2) & pl.col("_two"))).sort(["account_id", "_rank"])
    return pp.group_by("account_id", maintain_order=True).agg(
        pl.col("record_id").first().alias("contact"),
        pl.col("record_id").cast(pl.String).str.join(";").alias("contacts"))


def meetings(rng: np.random.Generator, people: pl.DataFrame, primary_rec: pl.DataFrame,
             company_rec: pl.DataFrame, deal_truth: pl.DataFrame, now: int, first_id: int) -> pl.DataFrame:
    """A first meeting for every converted person (+ follow-ups); older meetings at customer accounts."""
    conv = people.filter(pl.col("converted")).join(primary_rec, on="person_id", how="left", maintain_order="left")
    n = conv.height
    start = conv["converted_at"].to_numpy() + rng.integers(1, 8, n) * DAY // 2
    start = (start // 1800) * 1800  # meetings start on the half hour
    cust = people.filter(pl.col("is_customer") & ~pl.col("converted"))
    old_sel = cust.filter(pl.Series(rng.random(cust.height) < 0.05)).join(
        primary_rec, on="person_id", how="left", maintain_order="left")
    no = old_sel.height
    start_old = ((now - rng.integers(35, 400, no) * DAY) // 1800) * 1800
    df = pl.concat([
        conv.select("person_id", "account_id", "record_id", "owner", "company_name", "fit").with_columns(
            start=pl.Series(start), created=pl.Series(conv["converted_at"].to_numpy())),
        old_sel.select("person_id", "account_id", "record_id", "owner", "company_name", "fit").with_columns(
            start=pl.Series(start_old), created=pl.Series(start_old - rng.integers(1, 10, no) * DAY)),
    ], how="vertical")
    m = df.height
    u = rng.random(m)
    st = df["start"].to_numpy()
    fit = df["fit"].to_numpy()
    outcome = np.where(st > now, np.where(u < 0.9, "SCHEDULED", "RESCHEDULED"),
                       np.where(u < 0.12 + 0.1 * (1 - fit), "NO_SHOW", np.where(u > 0.96, "CANCELED", "COMPLETED")))
    dur = np.array([30, 30, 45, 60])[rng.integers(0, 4, m)] * 60
    deal_of = deal_truth.filter(pl.col("contact_record_id").is_not_null()).select(
        pl.col("contact_record_id").alias("record_id"), "deal_id").unique("record_id", keep="first")
    df = df.with_columns(outcome=pl.Series(outcome), end=pl.col("start") + pl.Series(dur),
                         id=pl.int_range(first_id, first_id + m, dtype=pl.Int64))
    df = df.join(company_rec, on="account_id", how="left", maintain_order="left").join(
        deal_of, on="record_id", how="left", maintain_order="left")
    names = np.array(["Intro call", "Discovery call", "Demo", "Follow-up", "QBR"])[rng.integers(0, 5, m)]
    return df.with_columns(mname=pl.Series(names)).select(
        pl.col("id").cast(pl.String).alias("Record ID"),
        pl.concat_str([pl.col("mname"), pl.lit(" - "), pl.col("company_name")]).alias("Meeting name"),
        ts_hub("start").alias("Meeting start time"), ts_hub("end").alias("Meeting end time"),
        pl.col("outcome").alias("Meeting outcome"), pl.col("owner").alias("Activity assigned to"),
        ts_hub("created").alias("Create Date"),
        pl.col("record_id").cast(pl.String).alias("Associated Contact IDs"),
        pl.col("company_record_id").cast(pl.String).alias("Associated Company IDs"),
        pl.col("deal_id").cast(pl.String).alias("Associated Deal IDs"),
    )


def tickets(rng: np.random.Generator, accounts: pl.DataFrame, people: pl.DataFrame, primary_rec: pl.DataFrame,
            company_rec: pl.DataFrame, now: int, first_id: int) -> pl.DataFrame:
    """Support tickets for customers; at-risk accounts get more, more urgent and escalated ones lately."""
    c = accounts.filter(pl.col("is_customer"))
    n = c.height
    risk = c["at_risk"].to_numpy()
    k = rng.poisson(np.where(risk, 6.0, 1.5))
    ai = np.repeat(np.arange(n), k)
    m = len(ai)
    r = risk[ai]
    age = np.where(r & (rng.random(m) < 0.6), rng.integers(0, 21 * DAY, m), rng.integers(0, 180 * DAY, m))
    created = now - age
    pr_u = rng.random(m)
    pr = np.where(pr_u < 0.35 - 0.15 * r, "LOW", np.where(pr_u < 0.7 - 0.2 * r, "MEDIUM",
                  np.where(pr_u < 0.92 - 0.2 * r, "HIGH", "URGENT")))
    closed = (age > 5 * DAY) & (rng.random(m) < 0.85)
    close_t = created + rng.integers(HOUR, 5 * DAY, m)
    status = np.where(closed, "Closed", np.array(["New", "Waiting on contact", "Waiting on us"])[
        rng.integers(0, 3, m)])
    escalated = (pr == "URGENT") | (r & (age < 21 * DAY) & (rng.random(m) < 0.5))
    # A contact at the account filed it (when there is one).
    contacts = people.join(primary_rec, on="person_id", how="inner").group_by("account_id").agg(
        pl.col("record_id").first())
    df = pl.DataFrame({"account_id": c["account_id"].gather(ai), "created": created, "pr": pr, "status": status,
                       "close": masked(close_t, closed), "esc": escalated,
                       "subj": take(V.TICKET_SUBJECTS, rng.integers(0, len(V.TICKET_SUBJECTS), m)),
                       "cat": take(V.TICKET_CATEGORIES, rng.integers(0, 4, m))}).sort("created")
    df = df.with_columns(id=pl.int_range(first_id, first_id + m, dtype=pl.Int64))
    df = df.join(company_rec, on="account_id", how="left", maintain_order="left").join(
        contacts, on="account_id", how="left", maintain_order="left")
    return df.select(
        pl.col("id").cast(pl.String).alias("Ticket ID"),
        pl.when(pl.col("esc")).then(pl.concat_str([pl.lit("[ESCALATED] "), pl.col("subj")])).otherwise(pl.col("subj"))
        .alias("Ticket name"),
        pl.lit("Support Pipeline").alias("Pipeline"), pl.col("status").alias("Ticket status"),
        pl.col("pr").alias("Priority"), pl.col("cat").alias("Category"), ts_hub("created").alias("Create date"),
        ts_hub("close").alias("Close date"),
        ts_hub(pl.coalesce(pl.col("close"), pl.col("created"))).alias("Last Modified Date"),
        pl.col("company_record_id").cast(pl.String).alias("Associated Company IDs"),
        pl.col("record_id").cast(pl.String).alias("Associated Contact IDs"),
        pl.when(pl.col("esc")).then(pl.lit("true")).otherwise(pl.lit("false")).alias("Escalated"),
    )


# ------------------------------------------------------------------------------------------- enrichment
_VENDORS = ["clearbit", "zoominfo", "apollo", "people_data_labs"]
_CONTACT_PROFILES = [["job_title", "phone", "seniority"], ["job_title", "linkedin_url", "city", "country"],
                     ["job_title", "phone", "seniority", "linkedin_url", "city", "country"], ["phone"]]
_COMPANY_PROFILES = [["employee_count", "industry", "annual_revenue"], ["technologies", "country", "city"],
                     ["employee_count", "industry", "annual_revenue", "technologies", "country", "city"]]


def enrichment(rng: np.random.Generator, recs: pl.DataFrame, accounts: pl.DataFrame, now: int,
               first_payload: int, wrong_rate: float = 0.10) -> tuple[list[pl.DataFrame], pl.DataFrame]:
    """Vendor payloads for contact records and accounts, ~10% of values wrong, confidence spread as usual.

    Vendors are bought to fill CRM gaps: a contact record exported without phone or job title (`phone_missing`,
    `title_missing`) gets a payload ~75% of the time, with a field profile that carries the missing field;
    other records ~20%. Accounts whose CRM record lacks a headcount (`crm_employees_missing`) get a payload with
    `employee_count` ~80% of the time, other accounts ~50%. Values that contradict a human-verified CRM field
    are wrong by construction (the human was right).
    Returns (frames per field profile, truth rows payload_id/field/is_wrong).
    """
    frames, truth = [], []
    pid = first_payload
    gap_phone = _flag(recs, "phone_missing")
    gap_title = _flag(recs, "title_missing")
    p_payload = np.where(gap_phone | gap_title, 0.75, 0.20)
    sel = (recs["email"] != "").to_numpy() & (rng.random(recs.height) < p_payload)
    r = recs.filter(pl.Series(sel))
    prof = rng.integers(0, len(_CONTACT_PROFILES), r.height)
    # Profile 1 has no phone, profile 3 no title: a gap record asks for what it lacks.
    prof = np.where(gap_phone[sel] & (prof == 1), 2, prof)
    prof = np.where(gap_title[sel] & (prof == 3), 0, prof)
    seniority_label = {"c_level": "executive", "vp": "vp", "director": "director", "manager": "manager",
                       "individual_contributor": "employee", "intern": "intern"}
    for j, fields in enumerate(_CONTACT_PROFILES):
        s = r.filter(pl.Series(prof == j))
        n = s.height
        if n == 0:
            continue
        hv = s["human_verified"].to_numpy()
        vals, wrong = {}, {}
        for f in fields:
            w = rng.random(n) < wrong_rate
            if f == "job_title":
                # Most vendor titles for human-verified contacts disagree with the verified value.
                w |= (np.char.find(hv.astype(str), "jobtitle") >= 0) & (rng.random(n) < 0.6)
                alt = take([t for _, _, t in _all_titles()], rng.integers(0, len(_all_titles()), n))
                vals[f] = pl.select(pl.when(pl.Series(w)).then(alt).otherwise(s["job_title"])).to_series()
            elif f == "phone":
                w |= (np.char.find(hv.astype(str), "phone") >= 0) & (rng.random(n) < 0.5)
                alt = pl.concat_str([pl.lit("+"), s["dial"], pl.lit(" "),
                                     pl.Series(rng.integers(10 ** 8, 10 ** 9, n)).cast(pl.String)], separator="")
                right = pl.concat_str([pl.lit("+"), s["dial"], s["nsn"]])
                vals[f] = pl.select(pl.when(pl.Series(w)).then(alt).otherwise(right)).to_series()
            elif f == "seniority":
                alt = take(list(seniority_label.values()), rng.integers(0, 6, n))
                vals[f] = pl.select(pl.when(pl.Series(w)).then(alt).otherwise(
                    s["seniority"].replace_strict(seniority_label))).to_series()
            elif f == "linkedin_url":
                right = pl.concat_str([pl.lit("https://www.linkedin.com/in/"), s["first_name"].str.to_lowercase(),
                                       pl.lit("-"), s["last_name"].str.to_lowercase(), pl.lit("-"), s["li_tag"]])
                alt = pl.concat_str([pl.lit("https://www.linkedin.com/in/"), s["first_name"].str.to_lowercase(),
                                     pl.Series(rng.integers(100, 999, n)).cast(pl.String)])
                vals[f] = pl.select(pl.when(pl.Series(w)).then(alt).otherwise(right)).to_series()
            elif f == "city":
                alt = take(["London", "New York", "Berlin", "Paris", "Toronto", "Austin", "Sydney"],
                           rng.integers(0, 7, n))
                vals[f] = pl.select(pl.when(pl.Series(w)).then(alt).otherwise(s["city"])).to_series()
            elif f == "country":
                alt = take(list(COUNTRY_NAME.values()), rng.integers(0, len(COUNTRY_NAME), n))
                vals[f] = pl.select(pl.when(pl.Series(w)).then(alt).otherwise(
                    s["country"].replace_strict(COUNTRY_NAME))).to_series()
                w = w & (vals[f] != s["country"].replace_strict(COUNTRY_NAME)).to_numpy()
            wrong[f] = w
        f_, t_, pid = _payload_frame(rng, "contact", s["email"], fields, vals, wrong, n, now, pid)
        frames.append(f_)
        truth.append(t_)
    gap_size = _flag(accounts, "crm_employees_missing")
    sel = rng.random(accounts.height) < np.where(gap_size, 0.8, 0.5)
    a = accounts.filter(pl.Series(sel))
    prof = rng.integers(0, len(_COMPANY_PROFILES), a.height)
    # Profile 1 carries no employee count: an account without a CRM headcount asks for the full profile.
    prof = np.where(gap_size[sel] & (prof == 1), 2, prof)
    ind_names = [i[0] for i in V.INDUSTRIES]
    for j, fields in enumerate(_COMPANY_PROFILES):
        s = a.filter(pl.Series(prof == j))
        n = s.height
        if n == 0:
            continue
        vals, wrong = {}, {}
        for f in fields:
            w = rng.random(n) < wrong_rate
            if f == "employee_count":
                fac = np.where(w, rng.choice([0.1, 0.3, 3.0, 8.0], n), rng.uniform(0.9, 1.1, n))
                vals[f] = pl.Series(np.maximum(1, (s["employees"].to_numpy() * fac)).astype(np.int64))
            elif f == "annual_revenue":
                fac = np.where(w, rng.choice([0.1, 0.25, 4.0, 10.0], n), rng.uniform(0.85, 1.15, n))
                vals[f] = pl.Series(np.round(s["annual_revenue"].to_numpy() * fac, -3).astype(np.int64))
            elif f == "industry":
                alt = take(ind_names, rng.integers(0, len(ind_names), n))
                vals[f] = pl.select(pl.when(pl.Series(w)).then(alt).otherwise(s["industry"])).to_series()
                w = w & (vals[f] != s["industry"]).to_numpy()
            elif f == "technologies":
                alt = take(V.TECHNOLOGIES, rng.integers(0, len(V.TECHNOLOGIES), n))
                right = s["technologies"]
                vals[f] = pl.select(pl.when(pl.Series(w)).then(pl.concat_str([right, alt], separator=";"))
                                    .otherwise(right)).to_series().str.split(";")
            elif f == "country":
                alt = take(list(COUNTRY_NAME.values()), rng.integers(0, len(COUNTRY_NAME), n))
                right = s["country"].replace_strict(COUNTRY_NAME)
                vals[f] = pl.select(pl.when(pl.Series(w)).then(alt).otherwise(right)).to_series()
                w = w & (vals[f] != right).to_numpy()
            elif f == "city":
                alt = take(["London", "New York", "Berlin", "Paris", "Toronto", "Austin", "Sydney"],
                           rng.integers(0, 7, n))
                vals[f] = pl.select(pl.when(pl.Series(w)).then(alt).otherwise(s["city"])).to_series()
                w = w & (vals[f] != s["city"]).to_numpy()
            wrong[f] = w
        f_, t_, pid = _payload_frame(rng, "company", s["domain"], fields, vals, wrong, n, now, pid)
        frames.append(f_)
        truth.append(t_)
    return frames, (pl.concat(truth, how="vertical") if truth else pl.DataFrame()), pid


def _flag(df: pl.DataFrame, col: str) -> np.ndarray:
    """A boolean column as numpy (all False when the frame does not carry it)."""
    if col not in df.columns:
        return np.zeros(df.height, dtype=bool)
    return df[col].fill_null(False).to_numpy().astype(bool)


_TITLES_CACHE: list = []


def _all_titles():
    if not _TITLES_CACHE:
        _TITLES_CACHE.extend((r, s, t) for r, d in V.TITLES.items() for s, ts in d.items() for t in ts)
    return _TITLES_CACHE


def _payload_frame(rng, otype, keys, fields, vals, wrong, n, now, pid):
    received = now - rng.integers(HOUR, 170 * DAY, n)
    ids = pl.Series(np.char.add("p-", np.arange(pid, pid + n).astype(str)), dtype=pl.String)
    structs = {}
    truth = []
    for f in fields:
        # Wrong values tend to come with lower (but overlapping) confidence.
        conf = np.where(wrong[f], rng.beta(4, 3, n), rng.beta(9, 2, n)).round(2)
        as_of = received - rng.integers(0, 300, n) * DAY
        structs[f] = pl.DataFrame({"value": vals[f], "confidence": conf, "t": as_of}).select(
            pl.struct(pl.col("value"), pl.col("confidence"), ts_date("t").alias("as_of"))).to_series().alias(f)
        truth.append(pl.DataFrame({"payload_id": ids, "field": [f] * n, "is_wrong": wrong[f],
                                   "value": vals[f].cast(pl.String) if vals[f].dtype != pl.List(pl.String)
                                   else vals[f].list.join(";")}))
    df = pl.DataFrame({
        "payload_id": ids, "vendor": take(_VENDORS, rng.integers(0, len(_VENDORS), n)),
        "object_type": [otype] * n, "match_key": keys, "t": received,
    }).with_columns(received_at=ts_iso("t"), fields=pl.DataFrame(structs).to_struct())
    return df.select("payload_id", "vendor", "object_type", "match_key", "received_at", "fields"), \
        pl.concat(truth, how="vertical"), pid + n


# ---------------------------------------------------------------------------------------------- signals
def signals(rng: np.random.Generator, accounts: pl.DataFrame, t0: int, t1: int, first_id: int) -> pl.DataFrame:
    """Buying triggers; in-market accounts emit more of them, recently."""
    n = accounts.height
    im = accounts["in_market"].to_numpy()
    k = rng.poisson(np.where(im, 2.5, 0.4))
    ai = np.repeat(np.arange(n), k)
    m = len(ai)
    im_e = im[ai]
    t = _recency_times(rng, m, t0, t1, np.where(im_e, 2.0, 0.0))
    typ = rng.choice(4, m, p=[0.45, 0.15, 0.3, 0.1])
    mag = np.where(typ == 0, rng.integers(1, 12, m), np.where(typ == 1, rng.choice([2, 5, 10, 25, 50], m), 1))
    tool = take(V.TECHNOLOGIES, rng.integers(0, len(V.TECHNOLOGIES), m))
    role = take(["SDRs", "Account Executives", "RevOps Analysts", "Marketing Ops Managers", "Engineers"],
                rng.integers(0, 5, m))
    lead = take(["VP Sales", "CRO", "CMO", "Head of RevOps"], rng.integers(0, 4, m))
    df = pl.DataFrame({"domain": accounts["domain"].gather(ai), "t": t, "typ": typ, "mag": mag}).with_columns(
        tool=tool, role=role, lead=lead).sort("t")
    df = _with_ids(df, "signal_id", "s-", first_id, 9)
    return df.select(
        "signal_id", pl.col("typ").replace_strict(dict(enumerate(["hiring", "funding", "tool_install",
                                                                   "leadership_change"])),
                                                  return_dtype=pl.String).alias("type"),
        "domain", ts_iso((pl.col("t") // DAY) * DAY).alias("observed_at"),
        pl.when(pl.col("typ") == 0).then(pl.concat_str([pl.lit("Hiring "), pl.col("mag").cast(pl.String),
                                                        pl.lit(" "), pl.col("role")]))
        .when(pl.col("typ") == 1).then(pl.concat_str([pl.lit("Raised $"), pl.col("mag").cast(pl.String),
                                                       pl.lit("M")]))
        .when(pl.col("typ") == 2).then(pl.concat_str([pl.lit("Installed "), pl.col("tool")]))
        .otherwise(pl.concat_str([pl.lit("New "), pl.col("lead")])).alias("detail"),
        pl.col("mag").alias("magnitude"),
        pl.col("typ").replace_strict({0: "jobs-feed", 1: "funding-db", 2: "technographics", 3: "news"},
                                     return_dtype=pl.String).alias("source"),
    )


# ------------------------------------------------------------------------------------------------- leads
LEAD_SOURCES = ["form", "chat", "webinar", "demo_request", "list_upload"]


def leads(rng: np.random.Generator, people: pl.DataFrame, accounts: pl.DataFrame, n: int, t0: int, t1: int,
          first_id: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Lead intake rows: real people (existing contacts or new prospects) plus junk, with expected status."""
    if n <= 0:
        return pl.DataFrame(), pl.DataFrame()
    kinds = ["existing", "new_prospect", "free_email", "student", "stealth", "disposable", "gibberish",
             "missing_company", "missing_country"]
    kw = np.array([0.42, 0.25, 0.09, 0.04, 0.03, 0.04, 0.04, 0.05, 0.04])
    kind = rng.choice(len(kinds), n, p=kw / kw.sum())
    if n >= 4 * len(kinds):  # every junk kind shows up even in small worlds (rows are time-sorted later)
        kind[: len(kinds)] = np.arange(len(kinds))
    # Existing people are more likely to fill a form when their intent is high.
    w = people["intent"].to_numpy() + 0.02
    pick_p = rng.choice(people.height, n, p=w / w.sum())
    p = people[pick_p]
    acc_pick = rng.integers(0, accounts.height, n)
    a = accounts[acc_pick]
    first = take(V.FIRST_NAMES, rng.integers(0, len(V.FIRST_NAMES), n))
    last = take(V.LAST_NAMES, rng.integers(0, len(V.LAST_NAMES), n))
    gib_local = pl.Series(["".join(chr(97 + c) for c in rng.integers(0, 26, 7)) for _ in range(n)])
    gib_name = pl.Series(["".join(chr(97 + c) for c in rng.integers(0, 26, 5)).capitalize() for _ in range(n)])
    k = pl.Series(np.array(kinds)[kind])
    role_i = rng.integers(0, len(_all_titles()), n)
    title_any = take([t for _, _, t in _all_titles()], role_i)
    fm = take(V.FREE_MAIL, rng.integers(0, len(V.FREE_MAIL), n))
    disp = take(V.DISPOSABLE, rng.integers(0, len(V.DISPOSABLE), n))
    uni = take(V.UNIVERSITIES, rng.integers(0, len(V.UNIVERSITIES), n))
    fl = pl.concat_str([ascii_slug(first), pl.lit("."), ascii_slug(last)])
    existing = k == "existing"
    df = pl.DataFrame({
        "kind": k,
        "first": pl.select(pl.when(existing).then(p["first_name"]).when(k == "gibberish").then(gib_name)
                           .otherwise(first)).to_series(),
        "last": pl.select(pl.when(existing).then(p["last_name"]).when(k == "gibberish").then(gib_name.str.reverse())
                          .otherwise(last)).to_series(),
        "email": pl.select(
            pl.when(existing).then(p["email"])
            .when(k == "free_email").then(pl.concat_str([fl, pl.lit("@"), fm]))
            .when(k == "student").then(pl.concat_str([fl, pl.lit("@"), uni]))
            .when(k == "disposable").then(pl.concat_str([gib_local, pl.lit("@"), disp]))
            .when(k == "gibberish").then(pl.concat_str([gib_local, pl.lit("@"), gib_local, pl.lit(".com")]))
            .when(k == "stealth").then(pl.concat_str([fl, pl.lit("@"), pl.lit("gmail.com")]))
            .otherwise(pl.concat_str([fl, pl.lit("@"), a["domain"]]))).to_series(),
        "title": pl.select(pl.when(existing).then(p["job_title"]).when(k == "student").then(pl.lit("Student"))
                           .when(k == "stealth").then(pl.lit("Founder")).otherwise(title_any)).to_series(),
        "company": pl.select(pl.when(existing).then(p["company_name"])
                             .when(k == "student").then(uni.str.split(".").list.first().str.to_uppercase())
                             .when(k == "stealth").then(pl.lit("Stealth"))
                             .when(k == "gibberish").then(gib_name)
                             .when(k.is_in(["missing_company", "free_email"])).then(pl.lit(""))
                             .otherwise(a["name"])).to_series(),
        "website": pl.select(pl.when(existing).then(p["website"])
                             .when(k.is_in(["new_prospect", "missing_country"])).then(a["website"])
                             .otherwise(pl.lit(""))).to_series(),
        "country": pl.select(pl.when(k == "missing_country").then(pl.lit(""))
                             .when(existing).then(p["country"].replace_strict(COUNTRY_NAME))
                             .otherwise(a["country"].replace_strict(COUNTRY_NAME))).to_series(),
        "city": pl.select(pl.when(existing).then(p["city"]).when(k == "missing_country").then(pl.lit(""))
                          .otherwise(a["city"])).to_series(),
        "state": pl.select(pl.when(existing).then(p["state"]).when(k == "missing_country").then(pl.lit(""))
                           .otherwise(a["state"])).to_series(),
        "employees": pl.select(pl.when(existing).then(p["employees"]).otherwise(a["employees"])
                               .cast(pl.String)).to_series(),
        "industry": pl.select(pl.when(existing).then(p["industry"]).otherwise(a["industry"])).to_series(),
        "t": rng.integers(t0, t1, n),
        "src": take(LEAD_SOURCES, rng.choice(5, n, p=[0.35, 0.12, 0.2, 0.13, 0.2])),
        "camp": take(V.CAMPAIGNS, rng.integers(0, len(V.CAMPAIGNS), n)),
        "msg": take(V.LEAD_MESSAGES, rng.integers(0, len(V.LEAD_MESSAGES), n)),
        "jmsg": take(V.JUNK_MESSAGES, rng.integers(0, len(V.JUNK_MESSAGES), n)),
        "phone": pl.select(pl.when(existing).then(p["phone"]).otherwise(pl.lit(""))).to_series(),
        "person_id": masked(p["person_id"].to_numpy(), existing.to_numpy()),
    }).sort("t")
    df = _with_ids(df, "sub", "sub-", first_id, 8)
    junk = ["free_email", "student", "stealth", "disposable", "gibberish"]
    df = df.with_columns(
        expected_status=pl.when(pl.col("kind").is_in(junk)).then(pl.lit("rejected"))
        .when(pl.col("kind").is_in(["missing_company", "missing_country"])).then(pl.lit("quarantined"))
        .otherwise(pl.lit("accepted")),
        reason=pl.when(pl.col("kind") == "disposable").then(pl.lit("disposable_domain"))
        .when(pl.col("kind") == "new_prospect").then(pl.lit("ok_new")).when(pl.col("kind") == "existing")
        .then(pl.lit("ok_existing_contact")).otherwise(pl.col("kind")),
    )
    # Webinar and list uploads use a different timestamp style than forms (both allowed by the contract).
    land = df.select(
        pl.col("sub").alias("Submission ID"),
        pl.when(pl.col("src").is_in(["webinar", "list_upload"])).then(ts_hub("t")).otherwise(ts_iso("t"))
        .alias("Submitted At"),
        pl.col("src").alias("Lead Source"), pl.col("camp").alias("Campaign"),
        pl.col("first").alias("First Name"), pl.col("last").alias("Last Name"), pl.col("email").alias("Email"),
        pl.col("phone").alias("Phone Number"), pl.col("title").alias("Job Title"),
        pl.col("company").alias("Company Name"), pl.col("website").alias("Website URL"),
        pl.col("country").alias("Country/Region"), pl.col("state").alias("State/Region"),
        pl.col("city").alias("City"), pl.col("employees").alias("Number of Employees"),
        pl.col("industry").alias("Industry"),
        pl.when(pl.col("kind").is_in(junk)).then(pl.col("jmsg")).otherwise(pl.col("msg")).alias("Message"),
    )
    truth = df.select(pl.col("sub").alias("submission_id"), "person_id", "expected_status", "reason",
                      pl.col("kind").alias("lead_kind"))
    return land, truth
