// Package mta is applayer's mail transfer agent: what sits behind the SMTP
// server (package smtpserver) and turns accepted messages into delivered
// ones. It decides whom the server accepts mail for, delivers local mail
// into Maildirs (package maildir), keeps a durable queue of mail for
// other domains, and runs the delivery worker that relays it to the
// domains' exchangers, retrying and finally bouncing, as RFC 5321 sections
// 4.5.4 and 5 describe.
//
// # Policy
//
// Mail for the MTA's own domains is accepted from anyone when the user
// exists (and always for postmaster, RFC 5321 section 4.5.1), and so is
// mail for the relay domains listed in Config.RelayDomains (a backup MX or
// a gateway). Mail for other domains is accepted only from an
// authenticated user (the submission role): anything else gets 550 5.7.1,
// so the server is never an open relay. An authenticated user may send only as their own address
// (or <>).
//
// # Durability (at least once)
//
// The server's 250 after DATA comes only after [Delivery.Commit]: the
// message file is fsynced, then hard-linked into every local recipient's
// Maildir new/ and, for remote recipients, into the queue, and every
// directory touched is fsynced (group-committed across sessions by
// maildir.Syncer). A message only relayed costs one file fsync and a
// share of one directory fsync. A crash before that point loses only what
// was never acknowledged; a crash after it loses nothing. A relay that got
// its 250 but crashed before recording it delivers again after restart:
// duplicates are possible only for messages in flight at a crash, as with
// every SMTP implementation.
//
// # Queue layout (under DATA/queue)
//
//	ID.q     one line "APPLAYER-QUEUE 1 {JSON envelope}" (sender,
//	         recipients, arrival), then the message exactly as it will be
//	         sent (with our Received:). It appears whole, by a link of a
//	         file already fsynced: its presence is the commit.
//	ID.st    the delivery state in JSON: per recipient done/failed/
//	         reported, attempts, next attempt, last answer; rewritten by
//	         rename and not fsynced (losing it costs a repeated attempt,
//	         not a message)
//	flush    created by `applayer mail queue flush`; the worker notices it
//	         within a second, retries everything at once, and removes it
//
// # Delivery
//
// One worker loop owns the in-memory schedule; up to Concurrency attempts
// run at once, each in its own goroutine. An attempt groups a message's
// pending recipients by domain, looks up the domain's MX records (falling
// back to its A/AAAA records when there are none, RFC 5321 section 5.1;
// a null MX, RFC 7505, fails at once with 5.1.10), and tries the
// exchangers in preference order (equal preferences in random order) on
// MXPort, with opportunistic STARTTLS (RFC 7435: no certificate check, as
// between MTAs without DANE or MTA-STS). A 4xx answer, a refused
// connection or a DNS time-out is temporary: the recipient is retried on
// the Retry schedule (default 1m, 5m, 15m, 30m, 1h, then every 2h, each
// with up to 10% jitter) until GiveUp (default 5 days) has passed since
// arrival. A 5xx answer is permanent. Permanent failures and expiries are
// reported to the sender as they happen, in RFC 3464 delivery status
// notifications sent from <> (and never for a message whose sender was
// <>). A domain's route is reused for 30 seconds. A message that already
// carries MaxHops Received: fields is refused rather than relayed (RFC
// 5321 section 6.3: a mail loop).
package mta
