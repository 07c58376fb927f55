"""macOS: the GUI's code signature (library validation) and the consented re-signing that lets it load
plugins it did not sign. Readable and testable on any system; only `allow-plugins` needs a Mac."""
