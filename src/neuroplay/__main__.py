from neuroplay.cli import main

main()
