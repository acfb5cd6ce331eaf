"""The HTTP interfaces: the REST API under ``/v1``, the OpenAI-compatible
``/v1/images/generations``, and the server-rendered web UI. All of them reach images only
through the ``Triptych`` facade, so credits, safety, storage and history always apply.

    from triptych.web.app import create_app
    app = create_app(Triptych())
"""
