from llmmeter.cli import main

main()
