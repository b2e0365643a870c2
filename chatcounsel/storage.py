"""Static files in production."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """whitenoise's compressed, hashed files, with `import ... from "./x.js"` and
    `import("./x.js")` in the ES modules rewritten to the hashed names: otherwise a
    module's imports would load the unhashed copies, which are cached for a minute only."""

    support_js_module_import_aggregation = True
