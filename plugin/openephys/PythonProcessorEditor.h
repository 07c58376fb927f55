// PythonProcessorEditor — choose a script, reload it (also while acquiring, to recover a faulted script),
// pick the error policy, and read the status: Home, module, last error (full traceback on demand) and the
// per-block script time against the block's duration. Everything here runs on the message thread; the
// status is polled by a timer, so nothing is ever shown from the audio thread.
#pragma once

#include <EditorHeaders.h>

#include <array>
#include <vector>
#include <string>

class PythonProcessor;

class PythonProcessorEditor : public GenericEditor, public Button::Listener, private Timer {
public:
    explicit PythonProcessorEditor(GenericProcessor* parentNode);
    ~PythonProcessorEditor() override;

    void buttonClicked(Button* button) override;
    void resized() override;

private:
    void timerCallback() override;
    void chooseScript();
    void chooseHome();    // the bare folder chooser ("Other folder...")
    void showHomeMenu();  // the Homes found on this machine, judged, then "Other folder..."
    void showFullError();

    PythonProcessor* processor;
    std::unique_ptr<UtilityButton> scriptButton;
    std::unique_ptr<UtilityButton> reloadButton;
    std::unique_ptr<UtilityButton> homeButton;
    std::unique_ptr<UtilityButton> errorButton;
    // Home, Script, Error, Block: one line each, fitted to the width by adapter_logic (editor_text), the full
    // text in the tooltip.
    std::array<std::unique_ptr<Label>, 4> statusLines;
    std::unique_ptr<FileChooser> chooser;  // kept alive while an asynchronous chooser is open
    bool chooserOpen = false;              // a chooser or the Home menu is on screen (none is offered on top)
    std::vector<std::string> menuHomes;    // the usable Homes of the open Home menu, by item id - 1
    std::string shownStatus;               // the status the lines show (redrawn only when it changes)

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(PythonProcessorEditor);
};
