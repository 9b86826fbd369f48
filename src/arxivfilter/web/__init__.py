"""The static web page (``arxivfilter site``): HTML, a data file per profile, vendored search."""
