"""Modules extend each other's pages through named template hooks, only where they are on."""

from dataclasses import replace

from jinja2 import DictLoader

from engine.app import build_brand_app
from engine.modules import Module


def test_enabled_modules_fill_template_hooks_and_others_do_not(platform, db):
    loaded = platform.brands["acme-clinic"].loaded
    rt = platform.runtime
    directory = rt.registry["directory"]
    hooked = replace(directory, template_hooks={"test.point": ("hooked.html",)})
    original = rt.registry._modules["directory"]  # type: ignore[attr-defined]
    rt.registry._modules["directory"] = hooked  # type: ignore[attr-defined]
    try:
        app = build_brand_app(loaded, rt)
    finally:
        rt.registry._modules["directory"] = original  # type: ignore[attr-defined]
    with app.app_context():
        assert list(app.jinja_env.globals["hook_templates"]("test.point")) == ["hooked.html"]
        assert list(app.jinja_env.globals["hook_templates"]("no.such.point")) == []
        app.jinja_loader.loaders.append(DictLoader({  # type: ignore[union-attr]
            "page.html": "[{% for t in hook_templates('test.point') %}{% include t %}"
                         "{% endfor %}]",
            "hooked.html": "fragment"}))
        assert app.jinja_env.get_template("page.html").render() == "[fragment]"


def test_module_without_hooks_declares_none():
    assert Module(name="x", title="X").template_hooks == {}
