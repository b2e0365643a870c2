// gettext, ngettext and interpolate for the client pages, over the page's own catalogue
// (frontend/client_catalogue.py puts it in #client-catalogue): the same functions that
// /jsi18n/ gives the staff pages, without their strings. A classic deferred script, so it
// runs before the page's modules.
(() => {
  const data = JSON.parse(document.getElementById("client-catalogue").textContent);
  const strings = data.strings;
  const rules = new Intl.PluralRules(data.plural.lang);
  const order = data.plural.order;

  window.gettext = (msgid) => {
    const value = strings[msgid];
    return typeof value === "string" ? value : msgid;
  };
  window.ngettext = (singular, plural, count) => {
    const forms = strings[singular];
    if (!Array.isArray(forms)) return count === 1 ? singular : plural;
    const index = order.indexOf(rules.select(count));
    return forms[index < 0 ? forms.length - 1 : index];
  };
  // As Django's: %(name)s from an object when `named`, else each %s from a list in turn.
  window.interpolate = (format, values, named) => {
    if (named) return format.replace(/%\(\w+\)s/g, (m) => String(values[m.slice(2, -2)]));
    const list = Array.from(values);
    return format.replace(/%s/g, () => String(list.shift()));
  };
})();
