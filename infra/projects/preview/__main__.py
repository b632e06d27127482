"""Entry point of the lab-preview project: one pull request's environment."""

from labpreview.program import main

main()
