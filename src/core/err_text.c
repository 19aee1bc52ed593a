/*
 * err_text.c — the message catalogue (see err_text.h): per language, the translations of the error codes'
 * default messages (err.h) and of the message ids a shopper meets (validation, not found, out of stock,
 * log-in and tokens), then the matcher that finds which id produced an English message and the renderer
 * of a translation.
 *
 * A message id is the English printf format, exactly as written where the error happens; several call
 * sites that say the same thing with different conversions ("country %s ..." and "country %.*s ...") share
 * one id, since matching only cares that a conversion stands for a run of characters. A translation uses
 * "%s" for the id's arguments in order, or "%N$s" for the N-th where the language orders them otherwise.
 * tests/unit/test_err_text.c checks that every language translates every row and uses no argument the id
 * does not have.
 */
#include "core/err_text.h"

#include <ctype.h>
#include <stdio.h>

#include "core/err.h"
#include "core/banned.h"

typedef struct row {
    int code;         /* MER_E_*: a translation of its default message; 0: of id */
    const char *id;   /* the English message id (NULL for a code row) */
    const char *text; /* the translation */
} row_t;

#define G(code, text)                                                                                                  \
    {                                                                                                                  \
        MER_E_##code, NULL, text                                                                                       \
    }
#define S(id, text)                                                                                                    \
    {                                                                                                                  \
        0, id, text                                                                                                    \
    }

/* clang-format off */
#define ID_REQUIRED "%s is required"
#define ID_INT_RANGE "%s must be an integer from %lld to %lld"
#define ID_PRODUCT_NOT_SOLD "product %lld is not sold in %s"
#define ID_NOT_SOLD "%s is not sold in %s"
#define ID_OUT_OF_STOCK "out of stock: %s (not enough units in one warehouse)"
#define ID_WRONG_LOGIN "wrong email or password"
#define ID_WRONG_LOGIN_PHONE "wrong email, phone or password"
#define ID_NEEDS_TOKEN "this call needs an Authorization: Bearer token"
#define ID_BAD_TOKEN "the bearer token is missing, malformed, expired or revoked"
#define ID_COUNTRY_NOT_SOLD "country %s is not sold in by this store"
#define ID_COUNTRY_REQUIRED "country is required (?country=IN or X-Country)"
#define ID_SORT "sort must be one of relevance, price_asc, price_desc, newest"
#define ID_NO_CATEGORY "no category with slug %s"
#define ID_CART_EMPTY "the cart is empty; add items or send lines"
#define ID_LOGIN_THROTTLED "too many failed logins; retry in %d seconds"
#define ID_BAD_EMAIL "not a valid email address"
#define ID_SHORT_PASSWORD "passwords need at least 8 characters"
#define ID_WRONG_CURRENT "the current password is wrong"
#define ID_SAME_PASSWORD "the new password is the current one"
#define ID_BAD_RESET_CODE "this reset code is unknown, used, replaced or expired"

static const row_t es[] = {
    G(INVALID_JSON, "el cuerpo de la solicitud no es un JSON válido"),
    G(INVALID_PARAM, "un parámetro tiene un valor no válido"),
    G(MISSING_PARAM, "falta un parámetro obligatorio"),
    G(VALIDATION, "la solicitud está bien formada, pero un campo no es aceptable"),
    G(UNAUTHORIZED, "es necesario iniciar sesión"),
    G(FORBIDDEN, "no tienes permiso para hacer esto"),
    G(NOT_FOUND, "no existe este recurso"),
    G(UNKNOWN_COUNTRY, "este país no es conocido"),
    G(CONFLICT, "el recurso está en un estado que no lo permite"),
    G(ALREADY_EXISTS, "ya existe un recurso con esta identidad"),
    G(RATE_LIMITED, "demasiadas solicitudes; inténtalo de nuevo más tarde"),
    G(SOLD_OUT, "esta sesión está agotada"),
    G(NOT_RESERVED, "esta sesión requiere una reserva hecha antes de la venta"),
    G(LIMIT_REACHED, "has alcanzado el límite de compra de esta sesión"),
    G(BLOCKED, "esta compra no está permitida"),
    G(NOT_STARTED, "la sesión aún no ha comenzado"),
    G(SALE_ENDED, "la sesión ha terminado"),
    G(INTERNAL, "se ha producido un error interno"),
    G(UNAVAILABLE, "el servicio se está cerrando o está sobrecargado"),
    S(ID_REQUIRED, "%s es obligatorio"),
    S(ID_INT_RANGE, "%s debe ser un número entero entre %s y %s"),
    S(ID_PRODUCT_NOT_SOLD, "el producto %s no se vende en %s"),
    S(ID_NOT_SOLD, "%s no se vende en %s"),
    S(ID_OUT_OF_STOCK, "sin existencias: %s (no hay suficientes unidades en un mismo almacén)"),
    S(ID_WRONG_LOGIN, "correo electrónico o contraseña incorrectos"),
    S(ID_WRONG_LOGIN_PHONE, "correo electrónico, teléfono o contraseña incorrectos"),
    S(ID_NEEDS_TOKEN, "esta llamada necesita un token Authorization: Bearer"),
    S(ID_BAD_TOKEN, "el token de acceso falta, es incorrecto, ha caducado o se ha revocado"),
    S(ID_COUNTRY_NOT_SOLD, "el país %s no está entre los países de esta tienda"),
    S(ID_COUNTRY_REQUIRED, "el país es obligatorio (?country=IN o X-Country)"),
    S(ID_SORT, "sort debe ser relevance, price_asc, price_desc o newest"),
    S(ID_NO_CATEGORY, "no hay ninguna categoría con el slug %s"),
    S(ID_CART_EMPTY, "el carrito está vacío; añade artículos o envía líneas"),
    S(ID_LOGIN_THROTTLED, "demasiados intentos de inicio de sesión fallidos; inténtalo de nuevo en %s segundos"),
    S(ID_BAD_EMAIL, "no es una dirección de correo electrónico válida"),
    S(ID_SHORT_PASSWORD, "las contraseñas necesitan al menos 8 caracteres"),
    S(ID_WRONG_CURRENT, "la contraseña actual no es correcta"),
    S(ID_SAME_PASSWORD, "la nueva contraseña es la actual"),
    S(ID_BAD_RESET_CODE, "este código de restablecimiento es desconocido, ya se usó, fue sustituido o caducó"),
};

static const row_t fr[] = {
    G(INVALID_JSON, "le corps de la requête n'est pas un JSON valide"),
    G(INVALID_PARAM, "un paramètre a une valeur non valide"),
    G(MISSING_PARAM, "un paramètre obligatoire est manquant"),
    G(VALIDATION, "la requête est bien formée mais un champ n'est pas acceptable"),
    G(UNAUTHORIZED, "une authentification est nécessaire"),
    G(FORBIDDEN, "vous n'êtes pas autorisé à faire cela"),
    G(NOT_FOUND, "cette ressource n'existe pas"),
    G(UNKNOWN_COUNTRY, "ce pays est inconnu"),
    G(CONFLICT, "la ressource est dans un état qui ne le permet pas"),
    G(ALREADY_EXISTS, "une ressource avec cette identité existe déjà"),
    G(RATE_LIMITED, "trop de requêtes ; réessayez plus tard"),
    G(SOLD_OUT, "cette session est épuisée"),
    G(NOT_RESERVED, "cette session nécessite une réservation faite avant la vente"),
    G(LIMIT_REACHED, "vous avez atteint la limite d'achat de cette session"),
    G(BLOCKED, "cet achat n'est pas autorisé"),
    G(NOT_STARTED, "la session n'a pas encore commencé"),
    G(SALE_ENDED, "la session est terminée"),
    G(INTERNAL, "une erreur interne s'est produite"),
    G(UNAVAILABLE, "le service s'arrête ou est surchargé"),
    S(ID_REQUIRED, "%s est obligatoire"),
    S(ID_INT_RANGE, "%s doit être un entier de %s à %s"),
    S(ID_PRODUCT_NOT_SOLD, "le produit %s n'est pas vendu dans le pays %s"),
    S(ID_NOT_SOLD, "%s n'est pas vendu dans le pays %s"),
    S(ID_OUT_OF_STOCK, "rupture de stock : %s (pas assez d'unités dans un même entrepôt)"),
    S(ID_WRONG_LOGIN, "adresse e-mail ou mot de passe incorrect"),
    S(ID_WRONG_LOGIN_PHONE, "adresse e-mail, téléphone ou mot de passe incorrect"),
    S(ID_NEEDS_TOKEN, "cet appel nécessite un jeton Authorization: Bearer"),
    S(ID_BAD_TOKEN, "le jeton d'accès est absent, mal formé, expiré ou révoqué"),
    S(ID_COUNTRY_NOT_SOLD, "le pays %s n'est pas desservi par cette boutique"),
    S(ID_COUNTRY_REQUIRED, "le pays est obligatoire (?country=IN ou X-Country)"),
    S(ID_SORT, "sort doit valoir relevance, price_asc, price_desc ou newest"),
    S(ID_NO_CATEGORY, "aucune catégorie n'a le slug %s"),
    S(ID_CART_EMPTY, "le panier est vide ; ajoutez des articles ou envoyez des lignes"),
    S(ID_LOGIN_THROTTLED, "trop de connexions échouées ; réessayez dans %s secondes"),
    S(ID_BAD_EMAIL, "adresse e-mail non valide"),
    S(ID_SHORT_PASSWORD, "les mots de passe doivent comporter au moins 8 caractères"),
    S(ID_WRONG_CURRENT, "le mot de passe actuel est incorrect"),
    S(ID_SAME_PASSWORD, "le nouveau mot de passe est l'actuel"),
    S(ID_BAD_RESET_CODE, "ce code de réinitialisation est inconnu, déjà utilisé, remplacé ou expiré"),
};

static const row_t it[] = {
    G(INVALID_JSON, "il corpo della richiesta non è un JSON valido"),
    G(INVALID_PARAM, "un parametro ha un valore non valido"),
    G(MISSING_PARAM, "manca un parametro obbligatorio"),
    G(VALIDATION, "la richiesta è ben formata ma un campo non è accettabile"),
    G(UNAUTHORIZED, "è necessaria l'autenticazione"),
    G(FORBIDDEN, "non hai il permesso di farlo"),
    G(NOT_FOUND, "questa risorsa non esiste"),
    G(UNKNOWN_COUNTRY, "questo paese non è conosciuto"),
    G(CONFLICT, "la risorsa è in uno stato che non lo consente"),
    G(ALREADY_EXISTS, "esiste già una risorsa con questa identità"),
    G(RATE_LIMITED, "troppe richieste; riprova più tardi"),
    G(SOLD_OUT, "questa sessione è esaurita"),
    G(NOT_RESERVED, "questa sessione richiede una prenotazione fatta prima della vendita"),
    G(LIMIT_REACHED, "hai raggiunto il limite di acquisto di questa sessione"),
    G(BLOCKED, "questo acquisto non è consentito"),
    G(NOT_STARTED, "la sessione non è ancora iniziata"),
    G(SALE_ENDED, "la sessione è terminata"),
    G(INTERNAL, "si è verificato un errore interno"),
    G(UNAVAILABLE, "il servizio si sta arrestando o è sovraccarico"),
    S(ID_REQUIRED, "%s è obbligatorio"),
    S(ID_INT_RANGE, "%s deve essere un numero intero da %s a %s"),
    S(ID_PRODUCT_NOT_SOLD, "il prodotto %s non è in vendita in %s"),
    S(ID_NOT_SOLD, "%s non è in vendita in %s"),
    S(ID_OUT_OF_STOCK, "esaurito: %s (unità insufficienti in un unico magazzino)"),
    S(ID_WRONG_LOGIN, "email o password errati"),
    S(ID_WRONG_LOGIN_PHONE, "email, telefono o password errati"),
    S(ID_NEEDS_TOKEN, "questa chiamata richiede un token Authorization: Bearer"),
    S(ID_BAD_TOKEN, "il token di accesso manca, non è valido, è scaduto o è stato revocato"),
    S(ID_COUNTRY_NOT_SOLD, "il paese %s non è servito da questo negozio"),
    S(ID_COUNTRY_REQUIRED, "il paese è obbligatorio (?country=IN o X-Country)"),
    S(ID_SORT, "sort deve essere relevance, price_asc, price_desc o newest"),
    S(ID_NO_CATEGORY, "nessuna categoria con lo slug %s"),
    S(ID_CART_EMPTY, "il carrello è vuoto; aggiungi articoli o invia le righe"),
    S(ID_LOGIN_THROTTLED, "troppi accessi non riusciti; riprova tra %s secondi"),
    S(ID_BAD_EMAIL, "indirizzo email non valido"),
    S(ID_SHORT_PASSWORD, "le password devono avere almeno 8 caratteri"),
    S(ID_WRONG_CURRENT, "la password attuale è errata"),
    S(ID_SAME_PASSWORD, "la nuova password è quella attuale"),
    S(ID_BAD_RESET_CODE, "questo codice di reimpostazione è sconosciuto, già usato, sostituito o scaduto"),
};

static const row_t de[] = {
    G(INVALID_JSON, "der Anfragetext ist kein gültiges JSON"),
    G(INVALID_PARAM, "ein Parameter hat einen ungültigen Wert"),
    G(MISSING_PARAM, "ein erforderlicher Parameter fehlt"),
    G(VALIDATION, "die Anfrage ist wohlgeformt, aber ein Feld ist nicht zulässig"),
    G(UNAUTHORIZED, "eine Anmeldung ist erforderlich"),
    G(FORBIDDEN, "Sie dürfen das nicht tun"),
    G(NOT_FOUND, "diese Ressource gibt es nicht"),
    G(UNKNOWN_COUNTRY, "dieses Land ist unbekannt"),
    G(CONFLICT, "die Ressource ist in einem Zustand, der das nicht erlaubt"),
    G(ALREADY_EXISTS, "eine Ressource mit dieser Identität gibt es bereits"),
    G(RATE_LIMITED, "zu viele Anfragen; bitte später erneut versuchen"),
    G(SOLD_OUT, "diese Verkaufsrunde ist ausverkauft"),
    G(NOT_RESERVED, "diese Verkaufsrunde erfordert eine Reservierung vor dem Verkauf"),
    G(LIMIT_REACHED, "Sie haben das Kauflimit dieser Verkaufsrunde erreicht"),
    G(BLOCKED, "dieser Kauf ist nicht erlaubt"),
    G(NOT_STARTED, "die Verkaufsrunde hat noch nicht begonnen"),
    G(SALE_ENDED, "die Verkaufsrunde ist beendet"),
    G(INTERNAL, "ein interner Fehler ist aufgetreten"),
    G(UNAVAILABLE, "der Dienst wird heruntergefahren oder ist überlastet"),
    S(ID_REQUIRED, "%s ist erforderlich"),
    S(ID_INT_RANGE, "%s muss eine ganze Zahl von %s bis %s sein"),
    S(ID_PRODUCT_NOT_SOLD, "Produkt %s wird in %s nicht verkauft"),
    S(ID_NOT_SOLD, "%s wird in %s nicht verkauft"),
    S(ID_OUT_OF_STOCK, "nicht vorrätig: %s (nicht genug Stück in einem Lager)"),
    S(ID_WRONG_LOGIN, "falsche E-Mail-Adresse oder falsches Passwort"),
    S(ID_WRONG_LOGIN_PHONE, "falsche E-Mail-Adresse, Telefonnummer oder falsches Passwort"),
    S(ID_NEEDS_TOKEN, "dieser Aufruf benötigt ein Token (Authorization: Bearer)"),
    S(ID_BAD_TOKEN, "das Zugangstoken fehlt, ist fehlerhaft, abgelaufen oder widerrufen"),
    S(ID_COUNTRY_NOT_SOLD, "das Land %s wird von diesem Shop nicht beliefert"),
    S(ID_COUNTRY_REQUIRED, "das Land ist erforderlich (?country=IN oder X-Country)"),
    S(ID_SORT, "sort muss relevance, price_asc, price_desc oder newest sein"),
    S(ID_NO_CATEGORY, "keine Kategorie mit dem Slug %s"),
    S(ID_CART_EMPTY, "der Warenkorb ist leer; fügen Sie Artikel hinzu oder senden Sie Positionen"),
    S(ID_LOGIN_THROTTLED, "zu viele fehlgeschlagene Anmeldungen; bitte in %s Sekunden erneut versuchen"),
    S(ID_BAD_EMAIL, "keine gültige E-Mail-Adresse"),
    S(ID_SHORT_PASSWORD, "Passwörter brauchen mindestens 8 Zeichen"),
    S(ID_WRONG_CURRENT, "das aktuelle Passwort ist falsch"),
    S(ID_SAME_PASSWORD, "das neue Passwort ist das aktuelle"),
    S(ID_BAD_RESET_CODE, "dieser Code zum Zurücksetzen ist unbekannt, benutzt, ersetzt oder abgelaufen"),
};

static const row_t pl[] = {
    G(INVALID_JSON, "treść żądania nie jest poprawnym JSON-em"),
    G(INVALID_PARAM, "parametr ma nieprawidłową wartość"),
    G(MISSING_PARAM, "brakuje wymaganego parametru"),
    G(VALIDATION, "żądanie jest poprawnie zbudowane, ale jedno z pól jest nie do przyjęcia"),
    G(UNAUTHORIZED, "wymagane jest zalogowanie"),
    G(FORBIDDEN, "nie masz uprawnień, aby to zrobić"),
    G(NOT_FOUND, "taki zasób nie istnieje"),
    G(UNKNOWN_COUNTRY, "ten kraj jest nieznany"),
    G(CONFLICT, "zasób jest w stanie, który na to nie pozwala"),
    G(ALREADY_EXISTS, "zasób o tej tożsamości już istnieje"),
    G(RATE_LIMITED, "zbyt wiele żądań; spróbuj ponownie później"),
    G(SOLD_OUT, "ta tura sprzedaży jest wyprzedana"),
    G(NOT_RESERVED, "ta tura sprzedaży wymaga rezerwacji przed rozpoczęciem sprzedaży"),
    G(LIMIT_REACHED, "osiągnięto limit zakupów w tej turze sprzedaży"),
    G(BLOCKED, "ten zakup jest niedozwolony"),
    G(NOT_STARTED, "tura sprzedaży jeszcze się nie rozpoczęła"),
    G(SALE_ENDED, "tura sprzedaży się zakończyła"),
    G(INTERNAL, "wystąpił błąd wewnętrzny"),
    G(UNAVAILABLE, "usługa jest wyłączana lub przeciążona"),
    S(ID_REQUIRED, "%s jest wymagane"),
    S(ID_INT_RANGE, "%s musi być liczbą całkowitą od %s do %s"),
    S(ID_PRODUCT_NOT_SOLD, "produkt %s nie jest sprzedawany w kraju %s"),
    S(ID_NOT_SOLD, "%s nie jest sprzedawany w kraju %s"),
    S(ID_OUT_OF_STOCK, "brak w magazynie: %s (za mało sztuk w jednym magazynie)"),
    S(ID_WRONG_LOGIN, "nieprawidłowy e-mail lub hasło"),
    S(ID_WRONG_LOGIN_PHONE, "nieprawidłowy e-mail, telefon lub hasło"),
    S(ID_NEEDS_TOKEN, "to wywołanie wymaga tokenu Authorization: Bearer"),
    S(ID_BAD_TOKEN, "token dostępu jest brakujący, błędny, wygasły lub unieważniony"),
    S(ID_COUNTRY_NOT_SOLD, "kraj %s nie jest obsługiwany przez ten sklep"),
    S(ID_COUNTRY_REQUIRED, "kraj jest wymagany (?country=IN lub X-Country)"),
    S(ID_SORT, "sort musi mieć wartość relevance, price_asc, price_desc lub newest"),
    S(ID_NO_CATEGORY, "brak kategorii o identyfikatorze %s"),
    S(ID_CART_EMPTY, "koszyk jest pusty; dodaj produkty lub wyślij pozycje"),
    S(ID_LOGIN_THROTTLED, "zbyt wiele nieudanych logowań; spróbuj ponownie za %s s"),
    S(ID_BAD_EMAIL, "to nie jest prawidłowy adres e-mail"),
    S(ID_SHORT_PASSWORD, "hasło musi mieć co najmniej 8 znaków"),
    S(ID_WRONG_CURRENT, "obecne hasło jest nieprawidłowe"),
    S(ID_SAME_PASSWORD, "nowe hasło jest takie samo jak obecne"),
    S(ID_BAD_RESET_CODE, "ten kod resetowania jest nieznany, wykorzystany, zastąpiony lub wygasł"),
};

static const row_t ru[] = {
    G(INVALID_JSON, "тело запроса не является корректным JSON"),
    G(INVALID_PARAM, "у параметра недопустимое значение"),
    G(MISSING_PARAM, "отсутствует обязательный параметр"),
    G(VALIDATION, "запрос составлен верно, но одно из полей недопустимо"),
    G(UNAUTHORIZED, "требуется вход в систему"),
    G(FORBIDDEN, "у вас нет прав на это действие"),
    G(NOT_FOUND, "такого ресурса нет"),
    G(UNKNOWN_COUNTRY, "эта страна неизвестна"),
    G(CONFLICT, "ресурс находится в состоянии, которое этого не допускает"),
    G(ALREADY_EXISTS, "ресурс с такими данными уже существует"),
    G(RATE_LIMITED, "слишком много запросов; повторите позже"),
    G(SOLD_OUT, "в этой сессии распродажи всё распродано"),
    G(NOT_RESERVED, "для этой сессии нужна регистрация до начала продажи"),
    G(LIMIT_REACHED, "вы достигли лимита покупок в этой сессии"),
    G(BLOCKED, "эта покупка не разрешена"),
    G(NOT_STARTED, "сессия ещё не началась"),
    G(SALE_ENDED, "сессия завершилась"),
    G(INTERNAL, "произошла внутренняя ошибка"),
    G(UNAVAILABLE, "сервис останавливается или перегружен"),
    S(ID_REQUIRED, "поле %s обязательно"),
    S(ID_INT_RANGE, "%s должно быть целым числом от %s до %s"),
    S(ID_PRODUCT_NOT_SOLD, "товар %s не продаётся в стране %s"),
    S(ID_NOT_SOLD, "%s не продаётся в стране %s"),
    S(ID_OUT_OF_STOCK, "нет в наличии: %s (недостаточно единиц на одном складе)"),
    S(ID_WRONG_LOGIN, "неверный адрес эл. почты или пароль"),
    S(ID_WRONG_LOGIN_PHONE, "неверный адрес эл. почты, телефон или пароль"),
    S(ID_NEEDS_TOKEN, "для этого вызова нужен токен Authorization: Bearer"),
    S(ID_BAD_TOKEN, "токен доступа отсутствует, повреждён, истёк или отозван"),
    S(ID_COUNTRY_NOT_SOLD, "страна %s не обслуживается этим магазином"),
    S(ID_COUNTRY_REQUIRED, "нужно указать страну (?country=IN или X-Country)"),
    S(ID_SORT, "sort должен быть одним из: relevance, price_asc, price_desc, newest"),
    S(ID_NO_CATEGORY, "нет категории с кодом %s"),
    S(ID_CART_EMPTY, "корзина пуста; добавьте товары или передайте строки заказа"),
    S(ID_LOGIN_THROTTLED, "слишком много неудачных попыток входа; повторите через %s с"),
    S(ID_BAD_EMAIL, "некорректный адрес эл. почты"),
    S(ID_SHORT_PASSWORD, "пароль должен содержать не менее 8 символов"),
    S(ID_WRONG_CURRENT, "текущий пароль неверен"),
    S(ID_SAME_PASSWORD, "новый пароль совпадает с текущим"),
    S(ID_BAD_RESET_CODE, "этот код сброса неизвестен, уже использован, заменён или истёк"),
};

static const row_t hi[] = {
    G(INVALID_JSON, "अनुरोध का मुख्य भाग मान्य JSON नहीं है"),
    G(INVALID_PARAM, "किसी पैरामीटर का मान अमान्य है"),
    G(MISSING_PARAM, "एक ज़रूरी पैरामीटर नहीं दिया गया"),
    G(VALIDATION, "अनुरोध सही ढंग से बना है, पर एक फ़ील्ड स्वीकार्य नहीं है"),
    G(UNAUTHORIZED, "लॉग इन करना ज़रूरी है"),
    G(FORBIDDEN, "आपको यह करने की अनुमति नहीं है"),
    G(NOT_FOUND, "ऐसा कोई संसाधन नहीं है"),
    G(UNKNOWN_COUNTRY, "यह देश ज्ञात नहीं है"),
    G(CONFLICT, "संसाधन ऐसी स्थिति में है जिसमें यह संभव नहीं"),
    G(ALREADY_EXISTS, "इस पहचान वाला संसाधन पहले से मौजूद है"),
    G(RATE_LIMITED, "बहुत अधिक अनुरोध; कुछ देर बाद फिर कोशिश करें"),
    G(SOLD_OUT, "इस सत्र का सारा स्टॉक बिक चुका है"),
    G(NOT_RESERVED, "इस सत्र के लिए सेल से पहले आरक्षण ज़रूरी है"),
    G(LIMIT_REACHED, "आप इस सत्र की ख़रीद सीमा तक पहुँच चुके हैं"),
    G(BLOCKED, "इस ख़रीद की अनुमति नहीं है"),
    G(NOT_STARTED, "सत्र अभी शुरू नहीं हुआ है"),
    G(SALE_ENDED, "सत्र समाप्त हो चुका है"),
    G(INTERNAL, "एक आंतरिक त्रुटि हुई"),
    G(UNAVAILABLE, "सेवा बंद हो रही है या अतिभारित है"),
    S(ID_REQUIRED, "%s ज़रूरी है"),
    S(ID_INT_RANGE, "%1$s %2$s से %3$s तक का पूर्णांक होना चाहिए"),
    S(ID_PRODUCT_NOT_SOLD, "उत्पाद %1$s, %2$s में नहीं बिकता"),
    S(ID_NOT_SOLD, "%1$s, %2$s में नहीं बिकता"),
    S(ID_OUT_OF_STOCK, "स्टॉक में नहीं: %s (एक गोदाम में पर्याप्त इकाइयाँ नहीं)"),
    S(ID_WRONG_LOGIN, "ग़लत ईमेल या पासवर्ड"),
    S(ID_WRONG_LOGIN_PHONE, "ग़लत ईमेल, फ़ोन या पासवर्ड"),
    S(ID_NEEDS_TOKEN, "इस कॉल के लिए Authorization: Bearer टोकन चाहिए"),
    S(ID_BAD_TOKEN, "बेयरर टोकन नहीं है, ग़लत है, समाप्त हो चुका है या रद्द कर दिया गया है"),
    S(ID_COUNTRY_NOT_SOLD, "देश %s इस स्टोर की सेवा में नहीं है"),
    S(ID_COUNTRY_REQUIRED, "देश बताना ज़रूरी है (?country=IN या X-Country)"),
    S(ID_SORT, "sort इनमें से एक होना चाहिए: relevance, price_asc, price_desc, newest"),
    S(ID_NO_CATEGORY, "%s स्लग वाली कोई श्रेणी नहीं है"),
    S(ID_CART_EMPTY, "कार्ट ख़ाली है; आइटम जोड़ें या लाइनें भेजें"),
    S(ID_LOGIN_THROTTLED, "बहुत अधिक असफल लॉगिन; %s सेकंड बाद फिर कोशिश करें"),
    S(ID_BAD_EMAIL, "यह मान्य ईमेल पता नहीं है"),
    S(ID_SHORT_PASSWORD, "पासवर्ड में कम से कम 8 अक्षर होने चाहिए"),
    S(ID_WRONG_CURRENT, "मौजूदा पासवर्ड ग़लत है"),
    S(ID_SAME_PASSWORD, "नया पासवर्ड मौजूदा पासवर्ड ही है"),
    S(ID_BAD_RESET_CODE, "यह रीसेट कोड अज्ञात, इस्तेमाल किया हुआ, बदला हुआ या समाप्त है"),
};

static const row_t vi[] = {
    G(INVALID_JSON, "nội dung yêu cầu không phải là JSON hợp lệ"),
    G(INVALID_PARAM, "một tham số có giá trị không hợp lệ"),
    G(MISSING_PARAM, "thiếu một tham số bắt buộc"),
    G(VALIDATION, "yêu cầu đúng định dạng nhưng có một trường không được chấp nhận"),
    G(UNAUTHORIZED, "cần đăng nhập"),
    G(FORBIDDEN, "bạn không được phép làm điều này"),
    G(NOT_FOUND, "không có tài nguyên này"),
    G(UNKNOWN_COUNTRY, "quốc gia này không được biết đến"),
    G(CONFLICT, "tài nguyên đang ở trạng thái không cho phép thao tác này"),
    G(ALREADY_EXISTS, "đã tồn tại một tài nguyên có cùng định danh"),
    G(RATE_LIMITED, "quá nhiều yêu cầu; vui lòng thử lại sau"),
    G(SOLD_OUT, "phiên này đã bán hết"),
    G(NOT_RESERVED, "phiên này yêu cầu đặt trước trước khi mở bán"),
    G(LIMIT_REACHED, "bạn đã đạt giới hạn mua của phiên này"),
    G(BLOCKED, "giao dịch mua này không được phép"),
    G(NOT_STARTED, "phiên chưa bắt đầu"),
    G(SALE_ENDED, "phiên đã kết thúc"),
    G(INTERNAL, "đã xảy ra lỗi nội bộ"),
    G(UNAVAILABLE, "dịch vụ đang tắt hoặc quá tải"),
    S(ID_REQUIRED, "%s là bắt buộc"),
    S(ID_INT_RANGE, "%s phải là số nguyên từ %s đến %s"),
    S(ID_PRODUCT_NOT_SOLD, "sản phẩm %s không được bán tại %s"),
    S(ID_NOT_SOLD, "%s không được bán tại %s"),
    S(ID_OUT_OF_STOCK, "hết hàng: %s (không đủ số lượng trong một kho)"),
    S(ID_WRONG_LOGIN, "email hoặc mật khẩu không đúng"),
    S(ID_WRONG_LOGIN_PHONE, "email, số điện thoại hoặc mật khẩu không đúng"),
    S(ID_NEEDS_TOKEN, "lệnh gọi này cần token Authorization: Bearer"),
    S(ID_BAD_TOKEN, "token truy cập bị thiếu, sai định dạng, hết hạn hoặc đã bị thu hồi"),
    S(ID_COUNTRY_NOT_SOLD, "cửa hàng này không bán tại quốc gia %s"),
    S(ID_COUNTRY_REQUIRED, "cần chỉ định quốc gia (?country=IN hoặc X-Country)"),
    S(ID_SORT, "sort phải là một trong: relevance, price_asc, price_desc, newest"),
    S(ID_NO_CATEGORY, "không có danh mục nào có slug %s"),
    S(ID_CART_EMPTY, "giỏ hàng trống; hãy thêm sản phẩm hoặc gửi danh sách dòng hàng"),
    S(ID_LOGIN_THROTTLED, "đăng nhập thất bại quá nhiều lần; thử lại sau %s giây"),
    S(ID_BAD_EMAIL, "địa chỉ email không hợp lệ"),
    S(ID_SHORT_PASSWORD, "mật khẩu cần ít nhất 8 ký tự"),
    S(ID_WRONG_CURRENT, "mật khẩu hiện tại không đúng"),
    S(ID_SAME_PASSWORD, "mật khẩu mới trùng với mật khẩu hiện tại"),
    S(ID_BAD_RESET_CODE, "mã đặt lại này không tồn tại, đã dùng, đã bị thay thế hoặc đã hết hạn"),
};

static const row_t th[] = {
    G(INVALID_JSON, "เนื้อหาคำขอไม่ใช่ JSON ที่ถูกต้อง"),
    G(INVALID_PARAM, "พารามิเตอร์มีค่าไม่ถูกต้อง"),
    G(MISSING_PARAM, "ไม่มีพารามิเตอร์ที่จำเป็น"),
    G(VALIDATION, "คำขอมีรูปแบบถูกต้อง แต่มีช่องข้อมูลที่ยอมรับไม่ได้"),
    G(UNAUTHORIZED, "ต้องเข้าสู่ระบบ"),
    G(FORBIDDEN, "คุณไม่ได้รับอนุญาตให้ทำสิ่งนี้"),
    G(NOT_FOUND, "ไม่พบทรัพยากรนี้"),
    G(UNKNOWN_COUNTRY, "ไม่รู้จักประเทศนี้"),
    G(CONFLICT, "ทรัพยากรอยู่ในสถานะที่ไม่อนุญาตให้ทำสิ่งนี้"),
    G(ALREADY_EXISTS, "มีทรัพยากรที่มีตัวตนนี้อยู่แล้ว"),
    G(RATE_LIMITED, "มีคำขอมากเกินไป โปรดลองใหม่ภายหลัง"),
    G(SOLD_OUT, "รอบการขายนี้ขายหมดแล้ว"),
    G(NOT_RESERVED, "รอบการขายนี้ต้องจองล่วงหน้าก่อนเริ่มขาย"),
    G(LIMIT_REACHED, "คุณซื้อครบจำนวนสูงสุดของรอบการขายนี้แล้ว"),
    G(BLOCKED, "ไม่อนุญาตให้ซื้อรายการนี้"),
    G(NOT_STARTED, "รอบการขายยังไม่เริ่ม"),
    G(SALE_ENDED, "รอบการขายสิ้นสุดแล้ว"),
    G(INTERNAL, "เกิดข้อผิดพลาดภายใน"),
    G(UNAVAILABLE, "บริการกำลังปิดหรือมีภาระงานมากเกินไป"),
    S(ID_REQUIRED, "ต้องระบุ %s"),
    S(ID_INT_RANGE, "%s ต้องเป็นจำนวนเต็มตั้งแต่ %s ถึง %s"),
    S(ID_PRODUCT_NOT_SOLD, "ไม่มีการขายสินค้า %s ใน %s"),
    S(ID_NOT_SOLD, "ไม่มีการขาย %s ใน %s"),
    S(ID_OUT_OF_STOCK, "สินค้าหมด: %s (จำนวนในคลังสินค้าแห่งเดียวไม่พอ)"),
    S(ID_WRONG_LOGIN, "อีเมลหรือรหัสผ่านไม่ถูกต้อง"),
    S(ID_WRONG_LOGIN_PHONE, "อีเมล โทรศัพท์ หรือรหัสผ่านไม่ถูกต้อง"),
    S(ID_NEEDS_TOKEN, "การเรียกนี้ต้องใช้โทเค็น Authorization: Bearer"),
    S(ID_BAD_TOKEN, "โทเค็นการเข้าถึงหายไป ผิดรูปแบบ หมดอายุ หรือถูกเพิกถอน"),
    S(ID_COUNTRY_NOT_SOLD, "ร้านค้านี้ไม่ได้ขายในประเทศ %s"),
    S(ID_COUNTRY_REQUIRED, "ต้องระบุประเทศ (?country=IN หรือ X-Country)"),
    S(ID_SORT, "sort ต้องเป็นค่าใดค่าหนึ่งต่อไปนี้: relevance, price_asc, price_desc, newest"),
    S(ID_NO_CATEGORY, "ไม่มีหมวดหมู่ที่มี slug %s"),
    S(ID_CART_EMPTY, "ตะกร้าว่างเปล่า เพิ่มสินค้าหรือส่งรายการสินค้า"),
    S(ID_LOGIN_THROTTLED, "เข้าสู่ระบบไม่สำเร็จหลายครั้งเกินไป โปรดลองใหม่ในอีก %s วินาที"),
    S(ID_BAD_EMAIL, "ที่อยู่อีเมลไม่ถูกต้อง"),
    S(ID_SHORT_PASSWORD, "รหัสผ่านต้องมีอย่างน้อย 8 ตัวอักษร"),
    S(ID_WRONG_CURRENT, "รหัสผ่านปัจจุบันไม่ถูกต้อง"),
    S(ID_SAME_PASSWORD, "รหัสผ่านใหม่ซ้ำกับรหัสผ่านปัจจุบัน"),
    S(ID_BAD_RESET_CODE, "รหัสรีเซ็ตนี้ไม่รู้จัก ใช้แล้ว ถูกแทนที่ หรือหมดอายุ"),
};

static const row_t id_[] = {
    G(INVALID_JSON, "isi permintaan bukan JSON yang valid"),
    G(INVALID_PARAM, "sebuah parameter memiliki nilai yang tidak valid"),
    G(MISSING_PARAM, "parameter wajib tidak ada"),
    G(VALIDATION, "permintaan sudah benar bentuknya, tetapi ada kolom yang tidak dapat diterima"),
    G(UNAUTHORIZED, "Anda harus masuk terlebih dahulu"),
    G(FORBIDDEN, "Anda tidak diizinkan melakukan ini"),
    G(NOT_FOUND, "sumber daya tidak ditemukan"),
    G(UNKNOWN_COUNTRY, "negara ini tidak dikenal"),
    G(CONFLICT, "sumber daya berada dalam status yang tidak mengizinkan ini"),
    G(ALREADY_EXISTS, "sumber daya dengan identitas ini sudah ada"),
    G(RATE_LIMITED, "terlalu banyak permintaan; coba lagi nanti"),
    G(SOLD_OUT, "sesi ini sudah habis terjual"),
    G(NOT_RESERVED, "sesi ini memerlukan reservasi sebelum penjualan dimulai"),
    G(LIMIT_REACHED, "Anda telah mencapai batas pembelian sesi ini"),
    G(BLOCKED, "pembelian ini tidak diizinkan"),
    G(NOT_STARTED, "sesi belum dimulai"),
    G(SALE_ENDED, "sesi telah berakhir"),
    G(INTERNAL, "terjadi kesalahan internal"),
    G(UNAVAILABLE, "layanan sedang dimatikan atau kelebihan beban"),
    S(ID_REQUIRED, "%s wajib diisi"),
    S(ID_INT_RANGE, "%s harus berupa bilangan bulat dari %s sampai %s"),
    S(ID_PRODUCT_NOT_SOLD, "produk %s tidak dijual di %s"),
    S(ID_NOT_SOLD, "%s tidak dijual di %s"),
    S(ID_OUT_OF_STOCK, "stok habis: %s (unit tidak cukup di satu gudang)"),
    S(ID_WRONG_LOGIN, "email atau kata sandi salah"),
    S(ID_WRONG_LOGIN_PHONE, "email, telepon, atau kata sandi salah"),
    S(ID_NEEDS_TOKEN, "panggilan ini memerlukan token Authorization: Bearer"),
    S(ID_BAD_TOKEN, "token akses tidak ada, salah format, kedaluwarsa, atau dicabut"),
    S(ID_COUNTRY_NOT_SOLD, "negara %s tidak dilayani oleh toko ini"),
    S(ID_COUNTRY_REQUIRED, "negara wajib diisi (?country=IN atau X-Country)"),
    S(ID_SORT, "sort harus salah satu dari relevance, price_asc, price_desc, newest"),
    S(ID_NO_CATEGORY, "tidak ada kategori dengan slug %s"),
    S(ID_CART_EMPTY, "keranjang kosong; tambahkan barang atau kirim baris pesanan"),
    S(ID_LOGIN_THROTTLED, "terlalu banyak percobaan masuk yang gagal; coba lagi dalam %s detik"),
    S(ID_BAD_EMAIL, "bukan alamat email yang valid"),
    S(ID_SHORT_PASSWORD, "kata sandi minimal 8 karakter"),
    S(ID_WRONG_CURRENT, "kata sandi saat ini salah"),
    S(ID_SAME_PASSWORD, "kata sandi baru sama dengan yang sekarang"),
    S(ID_BAD_RESET_CODE, "kode reset ini tidak dikenal, sudah dipakai, diganti, atau kedaluwarsa"),
};

static const row_t ms[] = {
    G(INVALID_JSON, "kandungan permintaan bukan JSON yang sah"),
    G(INVALID_PARAM, "satu parameter mempunyai nilai yang tidak sah"),
    G(MISSING_PARAM, "parameter wajib tiada"),
    G(VALIDATION, "permintaan dibentuk dengan betul tetapi satu medan tidak boleh diterima"),
    G(UNAUTHORIZED, "anda perlu log masuk"),
    G(FORBIDDEN, "anda tidak dibenarkan melakukan ini"),
    G(NOT_FOUND, "sumber tidak wujud"),
    G(UNKNOWN_COUNTRY, "negara ini tidak dikenali"),
    G(CONFLICT, "sumber berada dalam keadaan yang tidak membenarkan ini"),
    G(ALREADY_EXISTS, "sumber dengan identiti ini sudah wujud"),
    G(RATE_LIMITED, "terlalu banyak permintaan; cuba lagi kemudian"),
    G(SOLD_OUT, "sesi ini telah habis dijual"),
    G(NOT_RESERVED, "sesi ini memerlukan tempahan yang dibuat sebelum jualan"),
    G(LIMIT_REACHED, "anda telah mencapai had pembelian sesi ini"),
    G(BLOCKED, "pembelian ini tidak dibenarkan"),
    G(NOT_STARTED, "sesi belum bermula"),
    G(SALE_ENDED, "sesi telah tamat"),
    G(INTERNAL, "ralat dalaman telah berlaku"),
    G(UNAVAILABLE, "perkhidmatan sedang ditutup atau terlebih beban"),
    S(ID_REQUIRED, "%s diperlukan"),
    S(ID_INT_RANGE, "%s mestilah integer dari %s hingga %s"),
    S(ID_PRODUCT_NOT_SOLD, "produk %s tidak dijual di %s"),
    S(ID_NOT_SOLD, "%s tidak dijual di %s"),
    S(ID_OUT_OF_STOCK, "kehabisan stok: %s (unit tidak mencukupi dalam satu gudang)"),
    S(ID_WRONG_LOGIN, "e-mel atau kata laluan salah"),
    S(ID_WRONG_LOGIN_PHONE, "e-mel, telefon atau kata laluan salah"),
    S(ID_NEEDS_TOKEN, "panggilan ini memerlukan token Authorization: Bearer"),
    S(ID_BAD_TOKEN, "token akses tiada, rosak, tamat tempoh atau dibatalkan"),
    S(ID_COUNTRY_NOT_SOLD, "negara %s tidak dilayan oleh kedai ini"),
    S(ID_COUNTRY_REQUIRED, "negara diperlukan (?country=IN atau X-Country)"),
    S(ID_SORT, "sort mestilah salah satu daripada relevance, price_asc, price_desc, newest"),
    S(ID_NO_CATEGORY, "tiada kategori dengan slug %s"),
    S(ID_CART_EMPTY, "troli kosong; tambah item atau hantar baris"),
    S(ID_LOGIN_THROTTLED, "terlalu banyak log masuk gagal; cuba lagi dalam %s saat"),
    S(ID_BAD_EMAIL, "bukan alamat e-mel yang sah"),
    S(ID_SHORT_PASSWORD, "kata laluan memerlukan sekurang-kurangnya 8 aksara"),
    S(ID_WRONG_CURRENT, "kata laluan semasa salah"),
    S(ID_SAME_PASSWORD, "kata laluan baharu sama dengan yang semasa"),
    S(ID_BAD_RESET_CODE, "kod set semula ini tidak dikenali, telah digunakan, diganti atau tamat tempoh"),
};

static const row_t fil[] = {
    G(INVALID_JSON, "hindi wastong JSON ang katawan ng kahilingan"),
    G(INVALID_PARAM, "may parameter na may di-wastong halaga"),
    G(MISSING_PARAM, "may kulang na kinakailangang parameter"),
    G(VALIDATION, "maayos ang anyo ng kahilingan pero may field na hindi katanggap-tanggap"),
    G(UNAUTHORIZED, "kailangang mag-log in"),
    G(FORBIDDEN, "hindi ka pinapayagang gawin ito"),
    G(NOT_FOUND, "walang ganitong resource"),
    G(UNKNOWN_COUNTRY, "hindi kilala ang bansang ito"),
    G(CONFLICT, "nasa estado ang resource na hindi pumapayag dito"),
    G(ALREADY_EXISTS, "mayroon nang resource na may ganitong pagkakakilanlan"),
    G(RATE_LIMITED, "masyadong maraming kahilingan; subukang muli mamaya"),
    G(SOLD_OUT, "ubos na ang session na ito"),
    G(NOT_RESERVED, "kailangan ng reserbasyong ginawa bago ang sale para sa session na ito"),
    G(LIMIT_REACHED, "naabot mo na ang limitasyon sa pagbili sa session na ito"),
    G(BLOCKED, "hindi pinapayagan ang pagbiling ito"),
    G(NOT_STARTED, "hindi pa nagsisimula ang session"),
    G(SALE_ENDED, "tapos na ang session"),
    G(INTERNAL, "nagkaroon ng internal na error"),
    G(UNAVAILABLE, "nagsasara o sobrang abala ang serbisyo"),
    S(ID_REQUIRED, "kailangan ang %s"),
    S(ID_INT_RANGE, "ang %s ay dapat integer mula %s hanggang %s"),
    S(ID_PRODUCT_NOT_SOLD, "hindi ibinebenta ang produktong %s sa %s"),
    S(ID_NOT_SOLD, "hindi ibinebenta ang %s sa %s"),
    S(ID_OUT_OF_STOCK, "ubos ang stock: %s (kulang ang unit sa iisang bodega)"),
    S(ID_WRONG_LOGIN, "maling email o password"),
    S(ID_WRONG_LOGIN_PHONE, "maling email, telepono o password"),
    S(ID_NEEDS_TOKEN, "kailangan ng tawag na ito ang Authorization: Bearer token"),
    S(ID_BAD_TOKEN, "wala, mali ang anyo, expired o binawi ang bearer token"),
    S(ID_COUNTRY_NOT_SOLD, "hindi pinagsisilbihan ng tindahang ito ang bansang %s"),
    S(ID_COUNTRY_REQUIRED, "kailangan ang bansa (?country=IN o X-Country)"),
    S(ID_SORT, "ang sort ay dapat isa sa relevance, price_asc, price_desc, newest"),
    S(ID_NO_CATEGORY, "walang kategoryang may slug na %s"),
    S(ID_CART_EMPTY, "walang laman ang cart; magdagdag ng item o magpadala ng mga linya"),
    S(ID_LOGIN_THROTTLED, "masyadong maraming bigong pag-log in; subukang muli pagkalipas ng %s segundo"),
    S(ID_BAD_EMAIL, "hindi wastong email address"),
    S(ID_SHORT_PASSWORD, "kailangan ng password ng hindi bababa sa 8 character"),
    S(ID_WRONG_CURRENT, "mali ang kasalukuyang password"),
    S(ID_SAME_PASSWORD, "ang bagong password ay ang kasalukuyan"),
    S(ID_BAD_RESET_CODE, "hindi kilala, nagamit na, napalitan o expired na ang reset code na ito"),
};

static const struct {
    const char *lang;
    const row_t *rows;
    size_t n;
} catalogue[] = {
    {"es", es, MER_ARRAY_LEN(es)},
    {"fr", fr, MER_ARRAY_LEN(fr)},
    {"it", it, MER_ARRAY_LEN(it)},
    {"de", de, MER_ARRAY_LEN(de)},
    {"pl", pl, MER_ARRAY_LEN(pl)},
    {"ru", ru, MER_ARRAY_LEN(ru)},
    {"hi", hi, MER_ARRAY_LEN(hi)},
    {"vi", vi, MER_ARRAY_LEN(vi)},
    {"th", th, MER_ARRAY_LEN(th)},
    {"id", id_, MER_ARRAY_LEN(id_)},
    {"ms", ms, MER_ARRAY_LEN(ms)},
    {"fil", fil, MER_ARRAY_LEN(fil)},
};
/* clang-format on */

#define MAX_ARGS 8

typedef struct piece {
    const char *s;
    size_t n;
} piece_t;

/* Skips one conversion specification after its '%' (flags, width, precision, length); *conv gets the
 * conversion character. Returns the byte after it. */
static const char *skip_spec(const char *f, char *conv)
{
    while (*f && strchr("-+ #0'", *f))
        f++;
    while (*f && (isdigit((unsigned char)*f) || *f == '*'))
        f++;
    if (*f == '.') {
        f++;
        while (*f && (isdigit((unsigned char)*f) || *f == '*'))
            f++;
    }
    while (*f && strchr("hlzjtL", *f))
        f++;
    *conv = *f;
    return *f ? f + 1 : f;
}

/* Does text t match id f? Each conversion matches a non-empty run (digits, with a sign, for integers),
 * the shortest that lets the rest match; pieces receive the runs. */
static bool match(const char *f, const char *t, piece_t *pieces, size_t np, size_t *n)
{
    while (*f) {
        if (*f != '%') {
            if (*f != *t)
                return false;
            f++;
            t++;
            continue;
        }
        if (f[1] == '%') {
            if (*t != '%')
                return false;
            f += 2;
            t++;
            continue;
        }
        char conv;
        const char *rest = skip_spec(f + 1, &conv);
        bool decimal = conv && strchr("diu", conv), hex = conv && strchr("xX", conv);
        if (np == MAX_ARGS || conv == '\0')
            return false;
        for (size_t len = 1; t[len - 1]; len++) {
            char c = t[len - 1];
            bool sign = len == 1 && c == '-';
            if ((decimal && !isdigit((unsigned char)c) && !sign) || (hex && !isxdigit((unsigned char)c)))
                break;
            pieces[np] = (piece_t){t, len};
            if (match(rest, t + len, pieces, np + 1, n))
                return true;
        }
        return false;
    }
    if (*t)
        return false;
    *n = np;
    return true;
}

/* Appends bytes to out, never splitting a UTF-8 character at the end. */
static void put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + n >= cap) {
        n = cap - 1 - *len;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

/* Renders a translation with the pieces captured from the English text. */
static void render(const char *tr, const piece_t *pieces, size_t n, char *out, size_t cap)
{
    size_t len = 0, next = 0;
    out[0] = '\0';
    while (*tr) {
        const char *pct = strchr(tr, '%');
        if (pct == NULL) {
            put(out, cap, &len, tr, strlen(tr));
            return;
        }
        put(out, cap, &len, tr, (size_t)(pct - tr));
        if (pct[1] == '%') {
            put(out, cap, &len, "%", 1);
            tr = pct + 2;
            continue;
        }
        size_t idx = next++;
        const char *p = pct + 1;
        if (isdigit((unsigned char)*p)) {
            size_t k = 0;
            const char *q = p;
            while (isdigit((unsigned char)*q))
                k = k * 10 + (size_t)(*q++ - '0');
            if (*q == '$' && k > 0) {
                idx = k - 1;
                p = q + 1;
            }
        }
        char conv;
        tr = skip_spec(p, &conv);
        if (idx < n)
            put(out, cap, &len, pieces[idx].s, pieces[idx].n);
    }
}

/* The literal characters of an id: of two ids that match a text, the one with more says more about it. */
static size_t literal_len(const char *id)
{
    size_t n = 0;
    char conv;
    while (*id) {
        if (*id == '%' && id[1] != '%') {
            id = skip_spec(id + 1, &conv);
            continue;
        }
        id += *id == '%' ? 2 : 1;
        n++;
    }
    return n;
}

/* The catalogue of lang, or NULL. */
static const row_t *rows_of(const char *lang, size_t *n, const char **name)
{
    for (size_t l = 0; l < MER_ARRAY_LEN(catalogue); l++)
        if (strcmp(catalogue[l].lang, lang) == 0) {
            *n = catalogue[l].n;
            *name = catalogue[l].lang;
            return catalogue[l].rows;
        }
    return NULL;
}

/* The row of lang translating the code's default message. *name gets the catalogue's (static) name of lang. */
static const row_t *find_code(const char *lang, int code, const char **name)
{
    size_t n = 0;
    const row_t *rows = rows_of(lang, &n, name);
    for (size_t i = 0; rows && i < n; i++)
        if (rows[i].code == code)
            return &rows[i];
    return NULL;
}

/* The row of lang whose id english matches, the most specific if several do ("country %s is not sold in by
 * this store" rather than "%s is not sold in %s"), with its pieces. */
static const row_t *find_id(const char *lang, const char *english, piece_t *pieces, size_t *npieces, const char **name)
{
    size_t n = 0, best_len = 0;
    const row_t *rows = rows_of(lang, &n, name), *best = NULL;
    for (size_t i = 0; rows && i < n; i++) {
        const row_t *r = &rows[i];
        piece_t mine[MAX_ARGS];
        size_t m = 0;
        if (r->id == NULL || (r->id[0] != english[0] && r->id[0] != '%') || !match(r->id, english, mine, 0, &m))
            continue;
        size_t len = literal_len(r->id);
        if (best == NULL || len > best_len) {
            best = r;
            best_len = len;
            memcpy(pieces, mine, m * sizeof(*mine));
            *npieces = m;
        }
    }
    return best;
}

const char *mer_err_localize(int err, const char *english, const mer_locale_chain_t *chain, char *out, size_t cap)
{
    piece_t pieces[MAX_ARGS];
    size_t n = 0;
    bool is_default = strcmp(english, mer_err_message(err)) == 0;
    for (size_t c = 0; c < chain->n; c++) {
        const char *lang = chain->tags[c];
        if (strcmp(lang, "en") == 0)
            break;
        /* the code's default message is its own id (it could look like another: "... is required") */
        const row_t *r = is_default ? NULL : find_id(lang, english, pieces, &n, &lang);
        if (r) {
            render(r->text, pieces, n, out, cap);
            return lang;
        }
        r = find_code(lang, err, &lang);
        if (r) {
            size_t len = 0;
            out[0] = '\0';
            put(out, cap, &len, r->text, strlen(r->text));
            if (!is_default) { /* the details, in English */
                put(out, cap, &len, " (", 2);
                put(out, cap, &len, english, strlen(english));
                put(out, cap, &len, ")", 1);
            }
            return lang;
        }
    }
    snprintf(out, cap, "%s", english);
    return "en";
}

bool mer_err_text_row(size_t i, const char **lang, int *code, const char **id, const char **text)
{
    for (size_t l = 0; l < MER_ARRAY_LEN(catalogue); l++) {
        if (i >= catalogue[l].n) {
            i -= catalogue[l].n;
            continue;
        }
        const row_t *r = &catalogue[l].rows[i];
        *lang = catalogue[l].lang;
        *code = r->code;
        *id = r->code ? mer_err_message(r->code) : r->id;
        *text = r->text;
        return true;
    }
    return false;
}
