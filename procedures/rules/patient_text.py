"""Plain-language text for patients, written for SpineDesk (read aloud, it should make sense to someone
who has never had an injection). Clinical numbers never live here: they come from the protocol and the
clinic's settings. Every sheet ends with whom to call."""

WHAT_IT_IS = {
    "esi_interlaminar": (
        "An epidural steroid injection puts a small amount of anti-inflammatory medicine (a steroid) and "
        "numbing medicine into the space around the nerves in your spine. It can calm irritated nerves that "
        "cause pain in your back, neck, arm or leg."
    ),
    "esi_transforaminal": (
        "A transforaminal epidural steroid injection places anti-inflammatory medicine (a steroid) right next to "
        "the nerve that is irritated, where it leaves the spine. It can ease pain that travels down an arm or a leg."
    ),
    "facet_mbb": (
        "A medial branch block is a test. The doctor numbs the small nerves that carry pain from the joints at "
        "the back of your spine. If your usual pain goes away for a few hours, those joints are the likely "
        "source, and a longer-lasting treatment (radiofrequency ablation) may help you."
    ),
    "facet_ia": (
        "A facet joint injection puts numbing medicine and a steroid into one of the small joints at the back "
        "of your spine to ease pain and swelling there."
    ),
    "facet_rfa": (
        "Radiofrequency ablation uses gentle heat on the small nerves that carry pain from the joints of your "
        "spine, so they stop sending pain signals. Relief often lasts many months."
    ),
    "si_joint": (
        "A sacroiliac (SI) joint injection puts numbing medicine, and sometimes a steroid, into the joint where "
        "your spine meets your pelvis. It can show whether that joint causes your pain and can ease it."
    ),
    "trigger_point": (
        "Trigger point injections put a small amount of numbing medicine into tight, painful knots in a muscle "
        "to help them relax."
    ),
    "regenerative": (
        "A platelet-rich plasma (PRP) injection uses a small amount of your own blood, prepared so that the part "
        "that helps healing is concentrated, and places it where you have pain."
    ),
}

WHAT_HAPPENS = [
    "A nurse checks your name and date of birth, your medicines, and any allergies.",
    "You lie on a padded table. The skin is cleaned and numbed with a small needle; it stings for a few seconds.",
    "The doctor uses an X-ray or ultrasound picture to guide a thin needle to the right spot. You may feel pressure.",
    "The injection itself usually takes 15 to 30 minutes.",
    "Afterwards you rest in our recovery area while a nurse checks on you, then you can go home.",
]
WHAT_HAPPENS_NO_IMAGING = [
    "A nurse checks your name and date of birth, your medicines, and any allergies.",
    "The doctor finds the tender spots with their fingers and injects each one with a very thin needle.",
    "Afterwards you rest for a short time while a nurse checks on you, then you can go home.",
]

BRING = [
    "A photo ID and your insurance card.",
    "A list of every medicine you take, including vitamins and supplements (or bring the bottles).",
    "Glasses or hearing aids if you use them.",
    "Comfortable, loose clothes. Leave jewellery and valuables at home.",
]

AFTER = [
    "Your back or neck may feel numb, heavy or sore for a few hours. This is normal.",
    "Take it easy for the rest of the day. You can usually return to normal activity the next day.",
    "You can shower the same day. Do not soak in a bath, hot tub or pool for 24 hours.",
    "An ice pack for 15 minutes at a time can help soreness at the needle site.",
]
DIABETES = (
    "You have diabetes and this injection contains a steroid. Steroids can raise blood sugar for up to one to "
    "two weeks. Check your blood sugar more often than usual, and call the doctor who looks after your diabetes "
    "if it stays higher than your usual range."
)

QUESTIONS = [
    (
        "Will it hurt?",
        "You will feel a sting when the skin is numbed, then mostly pressure. Tell us if it hurts.",
    ),
    (
        "How soon will it work?",
        "Numbing medicine works within minutes and wears off in a few hours. A steroid can take two to seven "
        "days to start working.",
    ),
    (
        "What if I forget to stop my medicine?",
        "Call us before your appointment. Do not just come in: it may not be safe to do the injection.",
    ),
    (
        "Can I eat before?",
        "Yes, unless this sheet tells you to stop eating (only when you will have sedation).",
    ),
    (
        "Can I drive home?",
        "If you have sedation, no: a responsible adult must take you home. Without sedation most people can, "
        "but bring someone if your leg or arm feels numb or weak.",
    ),
    ("What if I am ill on the day?", "If you have a fever, an infection or feel unwell, call us to rebook."),
]

RED_FLAGS = [
    "Fever or chills (a temperature of 100.5 °F / 38 °C or higher).",
    "New numbness or weakness in your arms or legs that does not go away.",
    "New trouble controlling your bladder or bowels.",
    "A headache that gets worse when you sit or stand and better when you lie down.",
    "A stiff neck.",
    "Redness, warmth, swelling or discharge where the needle went in, or bleeding that does not stop.",
    "Severe pain that keeps getting worse.",
]
EMERGENCY = (
    "If you have severe weakness, cannot control your bladder or bowels, or feel very unwell, call 911."
)

# The check-in's red-flag questions (clinical-reference.md §8), as code → question. Any "yes" tells the
# patient at once whom to call and puts them on the urgent call list.
RED_FLAG_QUESTIONS = {
    "fever": "Fever or chills (100.5 °F / 38 °C or higher)?",
    "weakness_numbness": "New numbness or weakness in an arm or leg?",
    "bowel_bladder": "New trouble controlling your bladder or bowels?",
    "headache_upright": "A headache that is worse when you sit or stand up?",
    "stiff_neck": "A stiff neck?",
    "site_infection": "Redness, warmth, swelling or discharge where the needle went in?",
    "bleeding": "Bleeding from the needle site that does not stop?",
    "severe_pain": "Severe pain that keeps getting worse?",
}
SIDE_EFFECTS = {
    "site_soreness": "Soreness where the needle went in",
    "flushing": "Face flushing or feeling warm",
    "sleep": "Trouble sleeping",
    "blood_sugar": "Higher blood sugar than usual",
    "mood": "Feeling restless or moody",
    "headache": "A mild headache",
}
RED_FLAG_ADVICE = (
    "Please call us now at {phone}. If you cannot reach us, or you have severe weakness, cannot control your "
    "bladder or bowels, or feel very unwell, call 911 or go to the nearest emergency department."
)
