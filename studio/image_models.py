"""Which text-to-image model draws a GIF's first frame: the ones its round allows, as the curators approve them.

A round lists the models it allows (`Round.text_to_image_models`); a round that lists
none, and GIFs made outside any round, use the studio's default model
(`DEFAULT_MODELS["text-to-image"]`). The create form offers the allowed models the
curators approve now, the default first; `chosen_model` checks a member's pick again
when the GIF is started, so a hand-made POST or a retry meets the same rules.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.text import Truncator

from livepeer_ai.registry.curation import ModelNotRoutable, routable_model
from livepeer_ai.registry.models import EntryStatus, ModelEntry
from studio.models import Round
from studio.refusals import Refused

PIPELINE = "text-to-image"
MODEL_ID_MAX = ModelEntry._meta.get_field("model_id").max_length or 200


def default_model_id() -> str:
    return settings.DEFAULT_MODELS.get(PIPELINE, "")


def allowed_model_ids(round: Round | None) -> list[str]:
    """The model ids `round` allows, the default first, then by name; the default alone when it lists none."""
    default = default_model_id()
    if round is None or round.pk is None:
        return [default]
    listed = round.text_to_image_models.values_list("model_id", flat=True)
    return sorted(listed, key=lambda model_id: (model_id != default, model_id)) or [default]


def offered_models(round: Round | None) -> list[ModelEntry]:
    """The allowed models the curators approve now, in `allowed_model_ids`'s order: what the create form offers."""
    allowed = allowed_model_ids(round)
    approved = {
        entry.model_id: entry
        for entry in ModelEntry.objects.filter(pipeline=PIPELINE, model_id__in=allowed, status=EntryStatus.APPROVED)
    }
    return [approved[model_id] for model_id in allowed if model_id in approved]


def model_label(entry: ModelEntry) -> str:
    """How a model is named to members: its id and the kind of model it is."""
    return f"{entry.model_id} ({entry.get_family_display()})"


def chosen_model(round: Round | None, model_id: str) -> ModelEntry:
    """The model a member picked ("" for the first one offered) if `round` allows it and the curators
    approve it; else Refused, saying which models may be picked."""
    allowed = allowed_model_ids(round)
    if not model_id:
        offered = offered_models(round)
        model_id = offered[0].model_id if offered else allowed[0]
    if model_id not in allowed:
        names = ", ".join(allowed)
        # A hand-made request may name anything: the message quotes no more of it than a model id holds.
        named = Truncator(model_id).chars(MODEL_ID_MAX)
        raise Refused(f"This round doesn't allow the model {named!r}; it allows {names}.", status=400)
    try:
        return routable_model(PIPELINE, model_id)
    except ModelNotRoutable as exc:
        raise Refused(f"GIFs can't be made with this model right now. {exc.message}", status=503) from None
