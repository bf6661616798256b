"""Prompt catalogues: a value ending with a full stop ("eight p.m.") is not followed by a second
one from the template ("… p.m.. For a call back")."""

from __future__ import annotations

from ivr.dialogue.catalogue import load_catalogue


def test_a_time_at_the_end_of_a_sentence_gets_one_full_stop():
    en = load_catalogue("en")
    said = " ".join(en("after_hours", opening="eight a.m.", closing="eight p.m.").parts)
    assert said == ("Our operators are not available now. They work from eight a.m. to eight"
                    " p.m. For a call back, press 1.")
    assert en.text("offer_first", slot="tomorrow at five thirty p.m.") == \
        "The nearest time is tomorrow at five thirty p.m."


def test_other_values_keep_the_templates_full_stop():
    ru = load_catalogue("ru")
    assert ru.text("greeting", clinic="Городская поликлиника № 3") == \
        "Здравствуйте! Городская поликлиника № 3. Скорая помощь — сто три или сто двенадцать."
