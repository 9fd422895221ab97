//! One labelled form input with its hint and its error, tied together for screen readers
//! (`aria-describedby`, `aria-invalid`): every storefront form builds its inputs here.

use maud::{Markup, html};

pub struct Field<'a> {
    label: &'a str,
    name: &'a str,
    autocomplete: &'a str,
    kind: &'a str,
    value: &'a str,
    hint: Option<&'a str>,
    error: Option<&'a str>,
    max_length: Option<u16>,
    placeholder: Option<&'a str>,
}

impl<'a> Field<'a> {
    /// A required text input; `autocomplete` tells browsers and password managers what it holds.
    pub fn new(label: &'a str, name: &'a str, autocomplete: &'a str) -> Self {
        Field {
            label,
            name,
            autocomplete,
            kind: "text",
            value: "",
            hint: None,
            error: None,
            max_length: None,
            placeholder: None,
        }
    }

    pub fn kind(self, kind: &'a str) -> Self {
        Field { kind, ..self }
    }

    /// What the shopper typed before (never a password or a card number).
    pub fn value(self, value: &'a str) -> Self {
        Field { value, ..self }
    }

    pub fn hint(self, hint: Option<&'a str>) -> Self {
        Field { hint, ..self }
    }

    pub fn error(self, error: Option<&'a str>) -> Self {
        Field { error, ..self }
    }

    pub fn max_length(self, max_length: u16) -> Self {
        Field { max_length: Some(max_length), ..self }
    }

    pub fn placeholder(self, placeholder: &'a str) -> Self {
        Field { placeholder: Some(placeholder), ..self }
    }

    pub fn render(&self) -> Markup {
        let id = format!("f-{}", self.name);
        let hint_id = format!("{id}-hint");
        let error_id = format!("{id}-error");
        let mut described = Vec::new();
        if self.hint.is_some() {
            described.push(hint_id.clone());
        }
        if self.error.is_some() {
            described.push(error_id.clone());
        }
        let described = described.join(" ");
        // Codes and card numbers are digits: a phone shows its number pad.
        let numeric = matches!(self.autocomplete, "one-time-code" | "cc-number" | "cc-csc");
        html! {
            div.field {
                label for=(id) { (self.label) }
                @if let Some(hint) = self.hint { p.hint.muted id=(hint_id) { (hint) } }
                @if let Some(error) = self.error { p.field-error id=(error_id) { (error) } }
                input id=(id) name=(self.name) type=(self.kind) autocomplete=(self.autocomplete) value=(self.value)
                    required aria-invalid=[self.error.map(|_| "true")]
                    aria-describedby=[(!described.is_empty()).then_some(described.as_str())]
                    inputmode=[numeric.then_some("numeric")] maxlength=[self.max_length]
                    placeholder=[self.placeholder];
            }
        }
    }
}
