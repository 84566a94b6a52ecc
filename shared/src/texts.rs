//! The texts the server itself makes for visitors, in the five languages of
//! [`UiLang`]: capture errors, the blocked email domain refusal, the live chat
//! card's default text and the standard fallback. The widget holds its own strings
//! (web/widget/lang/); a dialog's texts are the dialog file's (docs/dialogs.md).
//! Agents' texts stay English.
//!
//! Each text is an array in the order English, German, French, Spanish,
//! Portuguese ([`UiLang::pick`]), so that a language missing from one is a compile
//! error, not a blank in the widget.

use crate::domain::{EmailError, UiLang};

/// A capture card refused an address it cannot read.
pub fn email_malformed(lang: UiLang) -> &'static str {
    lang.pick([
        "enter an email address like name@example.com",
        "Geben Sie eine E-Mail-Adresse wie name@example.com ein",
        "saisissez une adresse e-mail comme nom@example.com",
        "introduce una dirección de correo como nombre@example.com",
        "insira um endereço de e-mail como nome@example.com",
    ])
}

/// A capture card refused an address over 254 characters.
pub fn email_too_long(lang: UiLang) -> &'static str {
    lang.pick([
        "an email address is at most 254 characters",
        "eine E-Mail-Adresse hat höchstens 254 Zeichen",
        "une adresse e-mail compte au plus 254 caractères",
        "una dirección de correo tiene como máximo 254 caracteres",
        "um endereço de e-mail tem no máximo 254 caracteres",
    ])
}

/// What an [`EmailError`] tells the visitor.
pub fn email_error(error: &EmailError, lang: UiLang) -> &'static str {
    match error {
        EmailError::Malformed => email_malformed(lang),
        EmailError::TooLong => email_too_long(lang),
    }
}

/// A phone capture card refused a value.
pub fn phone_invalid(lang: UiLang) -> &'static str {
    lang.pick([
        "enter a phone number like +1 555 123 4567",
        "Geben Sie eine Telefonnummer wie +1 555 123 4567 ein",
        "saisissez un numéro de téléphone comme +1 555 123 4567",
        "introduce un número de teléfono como +1 555 123 4567",
        "insira um número de telefone como +1 555 123 4567",
    ])
}

/// A picklist capture card got a value that is none of its options.
pub fn picklist_invalid(lang: UiLang) -> &'static str {
    lang.pick([
        "choose one of the options",
        "Wählen Sie eine der Optionen",
        "choisissez l'une des options",
        "elige una de las opciones",
        "escolha uma das opções",
    ])
}

/// A required text capture card got nothing.
pub fn text_required(lang: UiLang) -> &'static str {
    lang.pick([
        "enter a value",
        "Geben Sie einen Wert ein",
        "saisissez une valeur",
        "introduce un valor",
        "insira um valor",
    ])
}

/// A text capture card got more than `max` characters.
pub fn text_too_long(lang: UiLang, max: usize) -> String {
    let template = lang.pick([
        "enter at most {} characters",
        "Geben Sie höchstens {} Zeichen ein",
        "saisissez au plus {} caractères",
        "introduce como máximo {} caracteres",
        "insira no máximo {} caracteres",
    ]);
    template.replace("{}", &max.to_string())
}

/// A text capture card got control characters (a pasted tab or new line).
pub fn text_control_characters(lang: UiLang) -> &'static str {
    lang.pick([
        "enter the text on one line, without tabs or control characters",
        "Geben Sie den Text in einer Zeile ein, ohne Tabulatoren oder Steuerzeichen",
        "saisissez le texte sur une ligne, sans tabulations ni caractères de contrôle",
        "introduce el texto en una línea, sin tabulaciones ni caracteres de control",
        "insira o texto em uma linha, sem tabulações ou caracteres de controle",
    ])
}

/// An address at a blocked domain: the domain typed (no more of the address), and
/// what to do instead. The capture card and the fallback form say the same.
pub fn email_domain_blocked(lang: UiLang, domain: &str) -> String {
    let template = lang.pick([
        "we cannot accept addresses at {}: please enter your work email",
        "Adressen bei {} können wir nicht annehmen: Bitte geben Sie Ihre geschäftliche E-Mail-Adresse ein",
        "nous ne pouvons pas accepter les adresses chez {} : saisissez votre e-mail professionnel",
        "no podemos aceptar direcciones de {}: introduce tu correo del trabajo",
        "não podemos aceitar endereços em {}: insira seu e-mail corporativo",
    ]);
    template.replace("{}", domain)
}

/// What a live chat card without its own `text` shows while connecting.
pub fn connecting(lang: UiLang) -> &'static str {
    lang.pick([
        crate::dialog::DEFAULT_CONNECTING_TEXT,
        "Wir verbinden Sie mit jemandem aus unserem Team…",
        "Nous vous mettons en relation avec quelqu'un de notre équipe…",
        "Te estamos conectando con alguien de nuestro equipo…",
        "Estamos conectando você com alguém da nossa equipe…",
    ])
}

/// The standard fallback, when nobody can take the chat and the account set no
/// text of its own.
pub fn standard_fallback(lang: UiLang) -> &'static str {
    lang.pick([
        crate::domain::STANDARD_FALLBACK,
        "Leider ist gerade niemand für einen Chat verfügbar. Hinterlassen Sie Ihre E-Mail-Adresse und eine Nachricht, dann melden wir uns bei Ihnen.",
        "Désolé, personne n'est disponible pour discuter pour le moment. Laissez votre e-mail et un message, et nous vous répondrons.",
        "Lo sentimos, no hay nadie disponible para chatear ahora. Deja tu correo y un mensaje y te responderemos.",
        "Desculpe, não há ninguém disponível para conversar agora. Deixe seu e-mail e uma mensagem e entraremos em contato.",
    ])
}

/// The subject of an agent's emailed answer to a missed request (the body is the
/// agent's own words and name).
pub fn reply_subject(lang: UiLang) -> &'static str {
    lang.pick([
        "Re: your chat request",
        "Re: Ihre Chat-Anfrage",
        "Re : votre demande de chat",
        "Re: tu solicitud de chat",
        "Re: sua solicitação de chat",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [UiLang; 5] = [UiLang::En, UiLang::De, UiLang::Fr, UiLang::Es, UiLang::Pt];

    #[test]
    fn every_language_has_its_own_text_for_every_message() {
        let texts = |lang| {
            vec![
                email_malformed(lang).to_string(),
                email_too_long(lang).to_string(),
                phone_invalid(lang).to_string(),
                picklist_invalid(lang).to_string(),
                text_required(lang).to_string(),
                text_too_long(lang, 500),
                text_control_characters(lang).to_string(),
                email_domain_blocked(lang, "gmail.com"),
                connecting(lang).to_string(),
                standard_fallback(lang).to_string(),
                reply_subject(lang).to_string(),
            ]
        };
        let english = texts(UiLang::En);
        for lang in ALL.into_iter().skip(1) {
            for (theirs, en) in texts(lang).iter().zip(&english) {
                assert_ne!(theirs, en, "{lang:?} repeats the English {en:?}");
                assert!(!theirs.contains("{}"), "{lang:?}: {theirs:?}");
            }
        }
        assert!(email_domain_blocked(UiLang::De, "gmail.com").contains("gmail.com"));
        assert!(text_too_long(UiLang::Fr, 500).contains("500"));
    }
}
