# ruff: noqa: E501 - one line per translation reads best
"""The demo units' names and descriptions in the client languages (machine-translated,
like the catalogues: docs/translations.md). seed_demo writes them as UnitTranslation rows."""

# slug -> language -> (name, description)
DEMO_UNIT_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "ekonomiskt-bistand": {
        "sv-x-ll": (
            "Pengar att leva på (ekonomiskt bistånd)",
            "Frågor om pengar att leva på. Hur du söker. Vad som händer med din ansökan.",
        ),
        "en": (
            "Financial assistance",
            "We answer questions about income support and other financial assistance, for example how to apply and what happens with your application.",
        ),
        "fi": (
            "Toimeentulotuki",
            "Vastaamme kysymyksiin toimeentulotuesta ja muusta taloudellisesta tuesta, esimerkiksi miten haet ja mitä hakemuksellesi tapahtuu.",
        ),
        "ar": (
            "المساعدة المالية",
            "نجيب عن الأسئلة المتعلقة بإعانة المعيشة وغيرها من المساعدات المالية، مثلًا كيف تقدّم طلبًا وماذا يحدث لطلبك.",
        ),
        "fa": (
            "کمک مالی",
            "به پرسش‌ها درباره کمک هزینه زندگی و دیگر کمک‌های مالی پاسخ می‌دهیم، برای نمونه چگونه درخواست دهید و درخواست شما چه می‌شود.",
        ),
        "so": (
            "Gargaarka dhaqaalaha",
            "Waxaan ka jawaabnaa su'aalaha ku saabsan taageerada nolosha iyo gargaarka kale ee dhaqaalaha, tusaale ahaan sida aad u codsato iyo waxa ku dhaca codsigaaga.",
        ),
        "uk": (
            "Фінансова допомога",
            "Відповідаємо на запитання про допомогу на проживання та іншу фінансову допомогу, наприклад як подати заяву і що відбувається з вашою заявою.",
        ),
    },
    "vald-i-nara-relationer": {
        "sv-x-ll": (
            "Våld i familjen eller av någon nära",
            "Hjälp om någon nära dig slår, hotar eller skadar dig. Du behöver inte säga vem du är. Chatten är öppen hela dygnet.",
        ),
        "en": (
            "Violence in close relationships",
            "Support for you who are or have been exposed to violence or threats by someone close to you. You can stay anonymous. The chat is open around the clock.",
        ),
        "fi": (
            "Lähisuhdeväkivalta",
            "Tukea sinulle, joka kohtaat tai olet kohdannut väkivaltaa tai uhkailua läheiseltäsi. Voit pysyä nimettömänä. Chat on auki ympäri vuorokauden.",
        ),
        "ar": (
            "العنف في العلاقات القريبة",
            "دعم لك إذا كنت تتعرض أو تعرضت للعنف أو التهديد من شخص قريب منك. يمكنك أن تبقى مجهول الهوية. الدردشة مفتوحة على مدار الساعة.",
        ),
        "fa": (
            "خشونت در روابط نزدیک",
            "پشتیبانی برای شما که از سوی فردی نزدیک در معرض خشونت یا تهدید هستید یا بوده‌اید. می‌توانید ناشناس بمانید. گفتگو شبانه‌روزی باز است.",
        ),
        "so": (
            "Rabshadda xiriirka dhow",
            "Taageero adiga oo la kulma ama la kulmay rabshad ama hanjabaad qof kuu dhow. Waxaad ahaan kartaa qof aan la aqoon. Wada-sheekaysigu waa furan yahay 24 saac.",
        ),
        "uk": (
            "Насильство в близьких стосунках",
            "Підтримка для вас, якщо ви зазнаєте або зазнавали насильства чи погроз від близької людини. Ви можете залишатися анонімними. Чат працює цілодобово.",
        ),
    },
    "barn-och-familj": {
        "sv-x-ll": (
            "Barn och familj",
            "Hjälp till barn, unga och föräldrar. Till exempel om du är orolig för ett barn. Eller om det är svårt i familjen.",
        ),
        "en": (
            "Children and families",
            "Advice and support for children, young people and parents, for example when you are worried about a child or when things are hard in the family.",
        ),
        "fi": (
            "Lapset ja perheet",
            "Neuvoja ja tukea lapsille, nuorille ja vanhemmille, esimerkiksi kun olet huolissasi lapsesta tai kun perheessä on vaikeaa.",
        ),
        "ar": (
            "الأطفال والأسرة",
            "نصائح ودعم للأطفال والشباب والآباء، مثلًا عندما تكون قلقًا على طفل أو عندما تمر الأسرة بوقت صعب.",
        ),
        "fa": (
            "کودک و خانواده",
            "مشاوره و پشتیبانی برای کودکان، نوجوانان و والدین، برای نمونه وقتی نگران کودکی هستید یا وقتی در خانواده دشواری هست.",
        ),
        "so": (
            "Carruurta iyo qoyska",
            "Talo iyo taageero carruurta, dhallinyarada iyo waalidiinta, tusaale ahaan marka aad ka walwalsan tahay ilmo ama marka qoysku dhibaato ku jiro.",
        ),
        "uk": (
            "Діти та сімʼя",
            "Поради та підтримка для дітей, молоді та батьків, наприклад коли ви хвилюєтеся за дитину або коли в сімʼї складно.",
        ),
    },
}
