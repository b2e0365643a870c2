// The poster page's one control: print (the page is laid out for A4).
document.getElementById("print")?.addEventListener("click", () => window.print());
