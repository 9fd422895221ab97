//! Turns an event into the email it asks for: recipient, subject and plain-text body.
//! Plain text only: the link is the whole point, and text renders the same in every client.

use super::{Event, EventPayload, IdentityEmail};

/// How emails name us.
pub const PRODUCT_NAME: &str = "Marketplace";

/// One email, ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The event type, which chose the template (the outbox's `kind`).
    pub kind: &'static str,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
}

pub fn render(event: &Event) -> Notification {
    let kind = event.payload.event_type();
    match &event.payload {
        EventPayload::EmailVerificationRequested(data) => Notification {
            kind,
            recipient: data.email.as_str().to_owned(),
            subject: format!("Confirm your email address for {PRODUCT_NAME}"),
            body_text: format!(
                "{greeting}\n\n\
                 Please confirm your email address by opening this link:\n\n\
                 {link}\n\n\
                 If you did not create a {PRODUCT_NAME} account, you can ignore this email.\n",
                greeting = greeting(data),
                link = data.link.as_str(),
            ),
        },
        EventPayload::PasswordResetRequested(data) => Notification {
            kind,
            recipient: data.email.as_str().to_owned(),
            subject: format!("Reset your {PRODUCT_NAME} password"),
            body_text: format!(
                "{greeting}\n\n\
                 Someone asked to reset the password of your {PRODUCT_NAME} account. \
                 To choose a new password, open this link:\n\n\
                 {link}\n\n\
                 If it was not you, ignore this email: your password stays as it is.\n",
                greeting = greeting(data),
                link = data.link.as_str(),
            ),
        },
    }
}

fn greeting(data: &IdentityEmail) -> String {
    match &data.display_name {
        Some(name) => format!("Hi {name},"),
        None => "Hi,".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::events::{EventId, Link};
    use crate::identity::email::Email;

    fn event(payload: fn(IdentityEmail) -> EventPayload, display_name: Option<&str>) -> Event {
        Event::new(
            EventId::parse("evt_1").unwrap(),
            DateTime::from_timestamp(1_777_636_800, 0).unwrap(),
            payload(IdentityEmail {
                email: Email::parse("ada@example.com").unwrap(),
                display_name: display_name.map(str::to_owned),
                link: Link::parse("https://shop.example/verify?token=t0k").unwrap(),
            }),
        )
    }

    #[test]
    fn verification_email_greets_by_name_and_carries_the_link_on_its_own_line() {
        let email = render(&event(EventPayload::EmailVerificationRequested, Some("Ada")));
        assert_eq!(email.kind, "identity.email_verification_requested");
        assert_eq!(email.recipient, "ada@example.com");
        assert_eq!(email.subject, "Confirm your email address for Marketplace");
        assert!(email.body_text.starts_with("Hi Ada,\n\n"), "{}", email.body_text);
        assert!(email.body_text.contains("\n\nhttps://shop.example/verify?token=t0k\n\n"), "{}", email.body_text);
    }

    #[test]
    fn password_reset_email_without_a_name_uses_a_plain_greeting() {
        let email = render(&event(EventPayload::PasswordResetRequested, None));
        assert_eq!(email.kind, "identity.password_reset_requested");
        assert_eq!(email.subject, "Reset your Marketplace password");
        assert!(email.body_text.starts_with("Hi,\n\n"), "{}", email.body_text);
        assert!(email.body_text.contains("https://shop.example/verify?token=t0k"));
    }
}
