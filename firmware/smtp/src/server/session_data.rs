//! The message data of a session: DATA and BDAT start a [`Body`] (its
//! buffer reserved from the reception budget, our Received header first),
//! the receivers fill it, full buffers go to the driver as
//! `Action::Spool`, and the end of data turns the transaction into a queue
//! record (`Action::Enqueue`) or a refusal.

use super::*;

/// A message's data on its way to the spool.
pub(super) struct Body {
    /// What the driver has not written yet (at most about [`SPOOL_CHUNK`]).
    pub(super) pending: Vec<u8>,
    /// Octets handed to the driver so far, our Received header included.
    pub(super) spooled: u64,
    pub(super) headers: HeaderScanner,
    /// `Some` for BDAT.
    pub(super) bdat: Option<BdatReceiver>,
    /// The buffer's share of the reception budget.
    pub(super) _memory: Reservation,
}

/// What the buffer starts with; it doubles as data arrives, up to
/// [`SPOOL_CHUNK`]. Most messages are a few KB: a thousand sessions in
/// DATA then hold a few MB of buffers, not 64 MB (the budget still
/// reserves the whole chunk: that is the bound).
pub(super) const FIRST_CHUNK: usize = 4 * 1024;

/// Makes room in the message buffer for what `incoming` input bytes can
/// write (a bare LF may become CR LF: two bytes each), doubling its
/// capacity and never past the chunk and the few bytes a receiver may
/// write beyond it: letting `Vec` grow by itself would double past
/// SPOOL_CHUNK and waste half.
pub(super) fn grow_pending(pending: &mut Vec<u8>, incoming: usize) {
    const MOST: usize = SPOOL_CHUNK + 3;
    let want = pending
        .len()
        .saturating_add(incoming.saturating_mul(2))
        .min(MOST);
    if want > pending.capacity() {
        let target = pending.capacity().saturating_mul(2).clamp(want, MOST);
        pending.reserve_exact(target - pending.len());
    }
}

impl Session {
    /// Hands the buffered message data to the driver once it is full.
    pub(super) fn spool_if_full(&mut self, actions: &mut Vec<Action>) {
        if let Some(tx) = self.tx.as_mut()
            && let Some(body) = tx.body.as_mut()
            && body.pending.len() >= SPOOL_CHUNK
        {
            // A fresh buffer of the same size: the message is long, and
            // growing again from FIRST_CHUNK would only copy.
            let chunk = std::mem::replace(&mut body.pending, Vec::with_capacity(SPOOL_CHUNK + 3));
            body.spooled += chunk.len() as u64;
            actions.push(Action::Spool(tx.mid, chunk));
        }
    }

    /// A BDAT chunk was read to its end; `more_input` says the client sent
    /// more after it without waiting for our reply.
    pub(super) fn bdat_chunk_done(
        &mut self,
        last: bool,
        more_input: bool,
        actions: &mut Vec<Action>,
    ) {
        let Some(tx) = self.tx.as_mut() else { return };
        let Some(body) = tx.body.as_mut() else { return };
        let rx = body.bdat.as_mut().expect("BDAT body has a receiver");
        if last && more_input {
            return self.protocol_violation("commands sent after BDAT LAST", actions);
        }
        if last {
            let result = rx.finish(&mut body.pending).map(|_| ());
            return self.end_of_data(result, actions);
        }
        if rx.too_large() {
            actions.push(Action::Reply(reply::TOO_LARGE.to_string()));
        } else {
            let size = rx.size();
            actions.push(Action::Reply(format!("250 2.0.0 {size} octets received")));
        }
        self.spool_if_full(actions);
    }

    pub(super) fn data(&mut self, actions: &mut Vec<Action>) {
        let Some(tx) = &self.tx else {
            return self.error(reply::NEED_MAIL.to_string(), actions);
        };
        if tx.body.is_some() {
            return self.error(reply::BDAT_MIXED.to_string(), actions);
        }
        if tx.recipients.is_empty() {
            return actions.push(Action::Reply(reply::NO_VALID_RCPT.to_string()));
        }
        if let Err(text) = self.start_body(false) {
            return actions.push(Action::Reply(text));
        }
        self.state = State::Data(DataReceiver::new(
            self.strict(),
            self.conn.hat.policy.max_message_size,
        ));
        actions.push(Action::Reply(reply::START_DATA.to_string()));
    }

    pub(super) fn strict(&self) -> bool {
        self.conn.listener.crlf == CrLfHandling::Strict
    }

    /// Starts the message data: reserves its buffer from the reception
    /// budget and puts our Received header first. `Err` is the reply when
    /// the budget is spent.
    pub(super) fn start_body(&mut self, bdat: bool) -> Result<(), String> {
        let Some(memory) = self.services.budget.try_reserve(SPOOL_CHUNK as u64) else {
            self.event(MailEvent::BudgetSpent {
                icid: self.conn.icid,
            });
            return Err(reply::BUDGET_SPENT.to_string());
        };
        let strict = self.strict();
        let c = &self.conn;
        let tx = self.tx.as_mut().expect("checked by the caller");
        let received = super::super::received::header(
            self.helo.as_deref().unwrap_or_default(),
            c.rdns.as_deref().filter(|_| c.rdns_verified),
            c.client_ip,
            &c.hostname,
            self.tls.as_ref(),
            tx.mid,
            (self.services.clock)(),
        );
        let mut pending = Vec::with_capacity(FIRST_CHUNK);
        pending.extend_from_slice(received.as_bytes());
        if let Some(h) = &tx.invalid_bounce_header {
            pending.extend_from_slice(h.as_bytes());
        }
        let max = c.hat.policy.max_message_size;
        tx.body = Some(Body {
            pending,
            spooled: 0,
            headers: HeaderScanner::new(c.headers),
            bdat: bdat.then(|| BdatReceiver::new(strict, max)),
            _memory: memory,
        });
        Ok(())
    }

    pub(super) fn bdat(&mut self, size: usize, last: bool, actions: &mut Vec<Action>) {
        let Some(tx) = self.tx.as_ref() else {
            // The chunk must still be read and thrown away to stay in step.
            self.state = State::Bdat {
                left: size,
                last: false,
            };
            return self.error(reply::NEED_MAIL.to_string(), actions);
        };
        if tx.recipients.is_empty() {
            self.tx = None;
            self.state = State::Bdat {
                left: size,
                last: false,
            };
            return actions.push(Action::Reply(reply::NO_VALID_RCPT.to_string()));
        }
        match &tx.body {
            None => {
                if let Err(text) = self.start_body(true) {
                    self.abort_transaction("reception memory budget spent");
                    self.state = State::Bdat {
                        left: size,
                        last: false,
                    };
                    return actions.push(Action::Reply(text));
                }
            }
            Some(body) if body.bdat.is_none() => {
                return self.error(reply::BDAT_MIXED.to_string(), actions);
            }
            Some(_) => {}
        }
        self.state = State::Bdat { left: size, last };
        if size == 0 {
            // An empty chunk is done at once (BDAT 0 LAST ends the message).
            self.state = State::Command;
            self.bdat_chunk_done(last, false, actions);
        }
    }

    pub(super) fn end_of_data(&mut self, result: Result<(), DataError>, actions: &mut Vec<Action>) {
        self.state = State::Command;
        let Some(mut tx) = self.tx.take() else { return };
        let Some(mut body) = tx.body.take() else {
            return;
        };
        let refused = match result {
            Err(DataError::TooLarge) => Some((
                "message size exceeds limit".to_string(),
                reply::TOO_LARGE.to_string(),
            )),
            Err(DataError::BareLineEnding) => Some((
                "bare CR or LF in message data".to_string(),
                reply::BARE_LINE_ENDING.to_string(),
            )),
            Err(DataError::Nul) => Some((
                "NUL character in message data".to_string(),
                reply::NUL_IN_DATA.to_string(),
            )),
            Ok(()) => body
                .headers
                .result()
                .err()
                .map(|e: HeaderError| (e.log(), e.reply())),
        };
        if let Some((why, text)) = refused {
            self.event(MailEvent::MessageRejected {
                mid: tx.mid,
                reason: why.to_string(),
            });
            self.event(MailEvent::FinishedAborted { mid: tx.mid });
            if body.spooled > 0 {
                actions.push(Action::Discard);
            }
            return actions.push(Action::Reply(text));
        }
        let record = self.finish(tx, &body);
        self.enqueuing = Some(record.mid);
        self.state = State::Waiting;
        actions.push(Action::Enqueue(Box::new((
            record,
            std::mem::take(&mut body.pending),
        ))));
    }

    pub(super) fn finish(&mut self, tx: Transaction, body: &Body) -> MessageRecord {
        let helo = self.helo.clone().unwrap_or_default();
        let message_id = body.headers.message_id();
        let subject = body.headers.subject();
        let size = body.spooled + body.pending.len() as u64;
        let mid = tx.mid;
        if let Some(id) = &message_id {
            self.event(MailEvent::MessageId {
                mid,
                message_id: id.clone(),
            });
        }
        if let Some(s) = &subject {
            self.event(MailEvent::Subject {
                mid,
                subject: s.clone(),
            });
        }
        self.event(MailEvent::Ready {
            mid,
            size,
            from: tx.mail_from.clone(),
        });
        let c = &self.conn;
        MessageRecord {
            mid,
            received_at: (self.services.clock)().timestamp(),
            reception: Reception {
                icid: c.icid,
                listener: c.listener.name.clone(),
                interface: c.interface.clone(),
                sender_group: c.hat.group.clone(),
                policy: c.hat.policy.name.clone(),
                client_ip: c.client_ip,
                rdns: c.rdns.clone(),
                rdns_verified: c.rdns_verified,
                helo,
                tls: self.tls.clone(),
            },
            mail_from: tx.mail_from,
            recipients: tx
                .recipients
                .into_iter()
                .enumerate()
                .map(|(i, address)| Recipient {
                    rid: Rid(i as u32),
                    address,
                    status: RecipientStatus::Pending,
                    attempts: 0,
                    next_attempt: 0,
                    last_response: None,
                })
                .collect(),
            body_size: size,
            message_id,
            subject,
            processing: Default::default(),
        }
    }
}
