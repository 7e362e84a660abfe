package core

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/mail"
	"github.com/gatehouse-auth/gatehouse/store"
)

// The mail queue's worker. Messages live in the store (store.MailQueue)
// until the SMTP server accepts them, so a restart loses none; a message
// whose send was cut short by a restart may be sent twice (at least once).
// A failed send is logged and retried after a growing delay, at most
// mailMaxAttempts times; then it is dropped with an error in the log.
const (
	// mailPoll is how often the worker looks for due messages when no
	// new one woke it.
	mailPoll = 2 * time.Second
	// mailRetryBase is the delay after the first failure; it doubles with
	// each further one, up to mailRetryMax.
	mailRetryBase = 2 * time.Second
	mailRetryMax  = time.Hour
	// mailMaxAttempts bounds the sends of one message (about a day with
	// the delays above).
	mailMaxAttempts = 30
	// mailLease is how long a worker holds a message it is sending before
	// another worker (another node, a reload) may take it.
	mailLease = 2 * time.Minute
	// mailSendTimeout bounds one send.
	mailSendTimeout = 30 * time.Second
)

// wakeMailer tells the worker a message was queued.
func (c *Core) wakeMailer() {
	select {
	case c.mailWake <- struct{}{}:
	default:
	}
}

// RunMailQueue sends the queued security e-mails until ctx ends. Start it
// once per running configuration (the portal's Start does).
func (c *Core) RunMailQueue(ctx context.Context) {
	if !c.mail.Enabled() {
		return
	}
	t := time.NewTicker(mailPoll)
	defer t.Stop()
	var digestAt time.Time
	for {
		if now := c.now(); now.Sub(digestAt) >= time.Minute || c.digestNow.Swap(false) {
			digestAt = now
			c.sendDigests()
		}
		c.sendDueMail(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.mailWake:
		}
	}
}

// sendDueMail sends the messages due now, one at a time.
func (c *Core) sendDueMail(ctx context.Context) {
	q := c.store.MailQueue()
	for ctx.Err() == nil {
		now := c.now()
		due, err := q.Next(now, 20)
		if err != nil {
			c.log.Error("mail queue: read", "error", err)
			return
		}
		if len(due) == 0 {
			return
		}
		for i := range due {
			if ctx.Err() != nil {
				return
			}
			m := &due[i]
			if ok, err := q.Claim(m, now, now.Add(mailLease)); err != nil || !ok {
				continue
			}
			c.sendQueued(ctx, m)
		}
	}
}

// sendQueued sends m, then removes it from the queue or schedules its retry.
func (c *Core) sendQueued(ctx context.Context, m *store.QueuedMail) {
	q := c.store.MailQueue()
	sctx, cancel := context.WithTimeout(ctx, mailSendTimeout)
	err := c.mail.Send(sctx, mail.Message{To: m.To, Subject: m.Subject, Text: m.Text})
	cancel()
	if err == nil {
		if err := q.Done(m.ID); err != nil {
			c.log.Error("mail queue: remove a sent message", "id", m.ID, "error", err)
		}
		return
	}
	if ctx.Err() != nil {
		// Stopping: the message stays, due again at once for the next
		// worker (the send may have reached the server: at least once).
		m.NextAt = c.now()
		if err := q.Retry(m); err != nil {
			c.log.Error("mail queue: release a message", "id", m.ID, "error", err)
		}
		return
	}
	m.Attempts++
	m.LastError = truncate(err.Error(), 300)
	if m.Attempts >= mailMaxAttempts {
		c.log.Error("mail queue: giving up on a message", "kind", m.Kind, "to", m.To, "attempts", m.Attempts, "error", err)
		if err := q.Done(m.ID); err != nil {
			c.log.Error("mail queue: remove a message", "id", m.ID, "error", err)
		}
		return
	}
	delay := mailRetryBase << min(m.Attempts-1, 20)
	if delay > mailRetryMax || delay <= 0 {
		delay = mailRetryMax
	}
	m.NextAt = c.now().Add(delay)
	c.log.Warn("mail queue: send failed, will retry", "kind", m.Kind, "to", m.To, "attempt", m.Attempts,
		"retry_in", delay.String(), "error", err)
	if err := q.Retry(m); err != nil {
		c.log.Error("mail queue: schedule a retry", "id", m.ID, "error", err)
	}
}
